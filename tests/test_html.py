"""mir's pages come from one set of Jinja2 templates (mir/templates/), autoescaped; no HTML is assembled in Python.

The rule the grep test holds ``mir/`` to: in a ``.py`` file, no string literal other than a docstring (plain
or f-string, read with :mod:`ast`; a literal only searched for, like the ``"<head>"`` of Evidently's page that
a ``<title>`` is inserted after, is not assembly) contains an HTML tag — ``<name …>`` or ``</name>`` where ``name`` is an HTML
element (``div``, ``td``, ``p``, ``script``, …); no function named ``esc`` is called (escaping is the templates'
job), and only :mod:`mir.reports.html` escapes by hand (``html.escape``/``markupsafe``), in the environment's
``finalize``. Templates live in ``mir/templates/`` and are installed as package data.
"""

import ast
import re
import tomllib

from conftest import ROOT

EVIL = '<script>alert("x")</script>'
ELEMENTS = ("a abbr audio b body br button caption code details div em figure footer h1 h2 h3 h4 h5 h6 head "
            "header hr html i iframe img input label li link main meta nav ol option p pre script section select "
            "small span strong style summary svg table tbody td textarea tfoot th thead title tr u ul video").split()
TAG = re.compile(r"</?\s*(?:" + "|".join(ELEMENTS) + r")\b[^<>]*>", re.IGNORECASE)


def test_metadata_is_escaped_and_pages_are_offline():
    from mir.reports.html import environment, render

    html = render("no_new_music.html", title=f"t {EVIL}", subtitle=EVIL, why=EVIL)
    table = environment().from_string('{% from "macros.html" import table %}{{ table(h, rows) }}').render(
        h=[EVIL], rows=[(EVIL, 0.5, 3)])
    for out in (html, table):
        assert "<script>" not in out
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in out  # quotes too, as html.escape writes them
        assert not re.search(r'(src|href)="(https?:)?//', out)
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html and "border-collapse" in html  # inline CSS
    assert '<td class="num">0.500</td><td>3</td>' in table


def _strings(tree: ast.AST):
    """Every string literal of a module but its docstrings and search anchors (the first argument of
    ``.replace``/``.find``/``.index``/``.split``: a tag looked for in another library's page), f-strings whole."""
    skip = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for n in ast.walk(tree):
        if isinstance(n, ast.JoinedStr):
            skip |= {id(v) for v in n.values}
        elif (isinstance(n, ast.Call) and getattr(n.func, "attr", None) in ("replace", "find", "index", "split")
              and n.args and isinstance(n.args[0], ast.Constant)):
            skip.add(id(n.args[0]))
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip:
            yield n.lineno, n.value
        elif isinstance(n, ast.JoinedStr):
            yield n.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in n.values)


def test_no_html_is_assembled_outside_the_templates():
    found, calls, escapes = [], [], []
    for py in sorted((ROOT / "mir").rglob("*.py")):
        rel = py.relative_to(ROOT).as_posix()
        tree = ast.parse(py.read_text(encoding="utf-8"))
        found += [f"{rel}:{line}: {s[:60]!r}" for line, s in _strings(tree) if TAG.search(s)]
        for n in ast.walk(tree):
            if isinstance(n, ast.Call):
                name = getattr(n.func, "id", None) or getattr(n.func, "attr", None)
                if name == "esc":
                    calls.append(f"{rel}:{n.lineno}")
                owner = getattr(getattr(n.func, "value", None), "id", None)  # re.escape is not HTML escaping
                if name == "escape" and owner in (None, "html", "markupsafe", "Markup") and rel != "mir/reports/html.py":
                    escapes.append(f"{rel}:{n.lineno}")
    assert found == [], "HTML assembled in Python (put it in mir/templates/):\n" + "\n".join(found)
    assert calls == [], f"esc(...) calls left: {calls}"
    assert escapes == [], f"escaping outside mir.reports.html: {escapes}"
    assert TAG.search('f"<td class=num>{x}</td>"') and not TAG.search("<stem>.html, <genre>/, <run-id>")


def test_every_page_has_a_template_and_templates_are_package_data():
    from mir.reports.html import environment

    names = set(environment().list_templates())
    assert {"base.html", "macros.html", "style.css", "index.html", "review.html", "song.html", "generalization.html",
            "validation.html", "retrain_run.html", "no_new_music.html", "charts.html"} <= names
    for name in names - {"base.html", "macros.html", "style.css", "charts.html", "head_title.html", "song_player.html"}:
        src = (ROOT / "mir/templates" / name).read_text(encoding="utf-8")
        assert '{% extends "base.html" %}' in src, name  # one layout
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert {"templates/*.html", "templates/*.css"} <= set(package_data["mir"])
