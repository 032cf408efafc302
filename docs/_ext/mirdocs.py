"""Sphinx directives that generate mir's reference pages from the code, so they cannot drift.

- ``mir-config``: every key of ``params.yaml`` with its type and allowed values (from the pydantic
  :class:`mir.config.Config`), its default (the value ``params.yaml`` ships, validated) and its meaning (the comment on its line
  in ``params.yaml``; else the field's ``description``). ``:fixed:`` lists the ``paths`` section instead,
  which is not in ``params.yaml`` (dvc.yaml names the same paths).
- ``mir-cli``: the help of every ``mir`` command, from the argparse parser of :mod:`mir.cli`.
- ``mir-api``: ``automodule`` for every module of a package (numpydoc renders the docstrings).
- ``mir-screenshot``: a report screenshot from ``docs/_static/``, or a note saying how to take it.

:func:`config_rows` and :func:`params_yaml_keys` are plain functions: ``tests/test_docs.py`` checks
that the reference and ``params.yaml`` hold the same keys, both ways.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import typing
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params.yaml"
STATIC = ROOT / "docs" / "_static"  # the report screenshots (docs/screenshots.py)
FIXED_SECTIONS = ("paths",)  # Config sections that are not parameters of params.yaml


def params_yaml_comments(path: Path = PARAMS) -> dict[str, str]:
    """Dotted key → the comment on the key's line in ``params.yaml`` (sections too)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out: dict[str, str] = {}

    def walk(node: yaml.MappingNode, prefix: str) -> None:
        for k, v in node.value:
            key = f"{prefix}{k.value}"
            line = lines[k.start_mark.line]
            nested = isinstance(v, yaml.MappingNode)
            same_line = v.end_mark.line == k.start_mark.line and not nested
            m = re.search(r"#\s?(.*)$", line[v.end_mark.column if same_line else k.end_mark.column:])
            if m:
                out[key] = m.group(1).strip()
            if nested:
                walk(v, key + ".")

    walk(yaml.compose(text), "")
    return out


def params_yaml_keys(path: Path = PARAMS) -> set[str]:
    """Every leaf key of ``params.yaml``, dotted (``train.augment.gain_db``)."""
    def flat(d: dict, prefix: str) -> set[str]:
        keys: set[str] = set()
        for k, v in d.items():
            keys |= flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
        return keys

    return flat(yaml.safe_load(path.read_text(encoding="utf-8")), "")


def _type_name(ann) -> str:
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Literal:
        return " \\| ".join(f"``{a}``" for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(parts) + (" \\| ``null``" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}" if args else "list"
    return getattr(ann, "__name__", str(ann))


def _bounds(field) -> str:
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "length ≥"}
    out = []
    for m in field.metadata:
        for attr, sign in signs.items():
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sign} {v}")
    return ", ".join(out)


def _default(value) -> str:
    return "``" + yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip().removesuffix(
        "\n...").removesuffix("...").strip() + "``"


def _is_section(ann) -> bool:
    from mir.section import Section

    return isinstance(ann, type) and issubclass(ann, Section)


def config_rows(*, fixed: bool = False) -> list[tuple[str, str, str, str]]:
    """``(dotted key, type and bounds, default, meaning)`` of every leaf key of :class:`mir.config.Config`.

    The default is the value ``params.yaml`` ships (and the code's own, where a missing key differs).
    ``fixed=False``: the keys of ``params.yaml``; ``fixed=True``: the ``paths`` section (not in it).
    """
    from mir.config import Config, load_config

    comments = params_yaml_comments()
    rows: list[tuple[str, str, str, str]] = []

    def walk(model, shipped, code, prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = field.alias or name
            dotted = f"{prefix}{key}"
            if not prefix and (key in FIXED_SECTIONS) != fixed:
                continue
            value, default = getattr(shipped, name), getattr(code, name)
            if _is_section(field.annotation):
                walk(field.annotation, value, default, dotted + ".")
                continue
            kind = _type_name(field.annotation)
            bounds = _bounds(field)
            shown = _default(value) + ("" if value == default else f" (without the key: {_default(default)})")
            meaning = comments.get(dotted) or (field.description or "")
            rows.append((dotted, kind + (f" ({bounds})" if bounds else ""), shown, meaning))

    walk(Config, load_config(PARAMS), Config(), "")
    return rows


def section_meanings() -> dict[str, str]:
    """Top-level section → its meaning (the params.yaml comment, else its class docstring's first line)."""
    from mir.config import Config

    comments = params_yaml_comments()
    out = {}
    for name, field in Config.model_fields.items():
        key = field.alias or name
        if _is_section(field.annotation):
            doc = (field.annotation.__doc__ or "").strip().splitlines()
            out[key] = comments.get(key) or (doc[0] if doc else "")
    return out


def config_rst(*, fixed: bool = False) -> list[str]:
    """The reference as reStructuredText: one table per top-level section."""
    rows = config_rows(fixed=fixed)
    meanings = section_meanings()
    out: list[str] = []
    sections: dict[str, list] = {}
    for row in rows:
        sections.setdefault(row[0].split(".")[0] if "." in row[0] else "", []).append(row)
    for sec, sec_rows in sections.items():
        if sec:
            out += [f".. rubric:: ``{sec}:``", "", _rst_text(meanings.get(sec, "")), ""]
        out += [".. list-table::", "   :header-rows: 1", "   :widths: 22 22 16 40", "",
                "   * - key", "     - type", "     - default", "     - meaning"]
        for key, kind, default, meaning in sec_rows:
            out += [f"   * - ``{key}``", f"     - {kind}", f"     - {default}", f"     - {_rst_text(meaning)}"]
        out.append("")
    return out


def _rst_text(text: str) -> str:
    """A params.yaml comment as inline reStructuredText (its backticks are code, ``*`` and ``|`` literal)."""
    parts = re.split(r"(`[^`]+`)", text)
    return "".join(f"``{p[1:-1]}``" if p.startswith("`") and p.endswith("`")
                   else re.sub(r"([*|_\\])", r"\\\1", p) for p in parts) or "—"


def cli_rst() -> list[str]:
    """Every ``mir`` command's ``--help``, from the parser itself."""
    import argparse

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: one width for the page
    from mir.cli import _parser

    out: list[str] = []

    def walk(parser: argparse.ArgumentParser, name: str, depth: int) -> None:
        title = f"``{name}``"
        out.extend([title, "-~^"[min(depth, 2)] * len(title), "", ".. code-block:: text", ""])
        out.extend("   " + ln if ln else "" for ln in parser.format_help().rstrip().splitlines())
        out.append("")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}", depth + 1)

    walk(_parser(), "mir", 0)
    return out


def api_rst(package: str, *, recursive: bool = True) -> list[str]:
    """An ``automodule`` per module of ``package`` (its own members only, not re-exports).

    ``recursive=False``: the package and its own modules, not its subpackages (``mir``'s core modules).
    """
    mod = importlib.import_module(package)
    names = [package]
    if hasattr(mod, "__path__"):
        names += sorted(m.name for m in pkgutil.walk_packages(mod.__path__, package + ".")
                        if not m.name.rsplit(".", 1)[-1].startswith("_")
                        and (recursive or (m.name.count(".") == package.count(".") + 1 and not m.ispkg)))
    out: list[str] = []
    for name in names:
        out += [name, "-" * len(name), "", f".. automodule:: {name}", "   :members:", "   :ignore-module-all:",
                "   :show-inheritance:", ""]
    return out


def setup(app):
    from docutils.parsers.rst import Directive, directives
    from docutils.statemachine import StringList

    def make(render, *, takes_arg: bool = False):
        class _Generated(Directive):
            required_arguments = 1 if takes_arg else 0
            option_spec = {"fixed": directives.flag, "flat": directives.flag}

            def run(self):
                from docutils import nodes

                kwargs = {}
                if "fixed" in self.options:
                    kwargs["fixed"] = True
                if "flat" in self.options:
                    kwargs["recursive"] = False
                lines = render(*self.arguments, **kwargs)
                container = nodes.section() if render is not config_rst else nodes.container()
                self.state.nested_parse(StringList(lines, source="mirdocs"), self.content_offset, container,
                                        match_titles=True)
                return container.children

        return _Generated

    class Screenshot(Directive):
        """``docs/_static/<name>`` as an image once ``docs/screenshots.py`` has taken it; until then, a note."""

        required_arguments = 1
        option_spec = {"alt": directives.unchanged}

        def run(self):
            from docutils import nodes

            name = self.arguments[0]
            if (STATIC / name).is_file():
                return [nodes.image(uri=f"/_static/{name}", alt=self.options.get("alt", name))]
            note = nodes.note()
            note += nodes.paragraph(text=f"Screenshot {name} not taken yet: run `make demo`, then "
                                         "`python docs/screenshots.py`.")
            return [note]

    app.add_directive("mir-screenshot", Screenshot)
    app.add_directive("mir-config", make(config_rst))
    app.add_directive("mir-cli", make(cli_rst))
    app.add_directive("mir-api", make(api_rst, takes_arg=True))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
