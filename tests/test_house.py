"""The house rules, checked on the source (no imports of the code under test, except mir.stages):

- no import cycle in ``mir/`` or ``flows/`` (imports inside functions count; ``if TYPE_CHECKING:`` ones don't,
  and importing ``a.b.c`` imports the packages ``a`` and ``a.b`` too);
- no module in ``mir/`` over 600 lines, no function over 80 lines;
- every ``dvc.yaml`` stage lists, as dependencies, the ``mir`` modules its function imports (transitively),
  so a change to any of them makes ``dvc repro`` rerun the stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("mir", "flows"):
        for p in sorted((ROOT / top).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _runtime_nodes(node: ast.AST):
    """Every node below ``node`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            yield from (n for n in child.orelse for n in [n, *_runtime_nodes(n)])
            continue
        yield child
        yield from _runtime_nodes(child)


def _imported(node: ast.AST, *, package: str) -> list[str]:
    """Dotted names an import statement imports (relative imports resolved against ``package``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            pkg = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(pkg + ([base] if base else []))
        return [base] + [f"{base}.{a.name}" for a in node.names]
    return []


def import_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}`` over mir/ and flows/ (with the parent packages of each import)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(node, package=package):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
                    dotted = ".".join(parts[:i])
                    if dotted in mods and dotted != name and not name.startswith(dotted + "."):
                        graph[name].add(dotted)
    return graph


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles (each a set of modules that import each other): " + "; ".join(
        " ↔ ".join(c) for c in cycles)


def test_the_cycle_check_sees_lazy_and_package_imports(tmp_path):
    """The checker itself: a lazy import inside a function closes a cycle; TYPE_CHECKING imports don't."""
    a = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mir.b\ndef f():\n    import mir.c\n")
    names = [t for n in _runtime_nodes(a) for t in _imported(n, package="mir")]
    assert "mir.c" in names and "mir.b" not in names
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_module_and_function_sizes():
    too_long = []
    for name, path in _modules().items():
        if not name.startswith("mir"):
            continue
        text = path.read_text(encoding="utf-8")
        n_lines = len(text.splitlines())
        if n_lines > MAX_MODULE_LINES:
            too_long.append(f"module {name}: {n_lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"function {name}.{node.name} (line {node.lineno}): {n} lines")
    assert not too_long, f"over {MAX_MODULE_LINES} lines per module / {MAX_FUNCTION_LINES} per function:\n" + \
        "\n".join(too_long)


def _stage_deps() -> dict[str, list[str]]:
    doc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    return {name: [d for d in (st.get("deps") or []) if isinstance(d, str)] for name, st in doc["stages"].items()}


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == d.rstrip("/") or rel.startswith(d.rstrip("/") + "/") for d in deps)


def test_dvc_stages_depend_on_the_code_they_run():
    from mir.stages import STAGES

    graph = import_graph()
    mods = _modules()
    deps = _stage_deps()
    assert set(deps) == {s.name for s in STAGES}, "dvc.yaml's stages are mir.stages.STAGES"
    missing = {}
    for stage in STAGES:
        used = closure(graph, stage.target.split(":")[0])
        lacking = sorted(m for m in used if m.startswith("mir") and not _covered(mods[m], deps[stage.name]))
        if lacking:
            missing[stage.name] = [mods[m].relative_to(ROOT).as_posix() for m in lacking]
    assert not missing, "dvc.yaml deps lack code the stage imports: " + "; ".join(
        f"{k}: {', '.join(v)}" for k, v in missing.items())


@pytest.mark.parametrize("module, dep", [("mir.config", "mir/config.py"), ("mir.datasets.fma", "mir/datasets")])
def test_coverage_rule(module, dep):
    """The dependency rule itself: a file is covered by itself or by a folder above it, nothing else."""
    path = _modules()[module]
    assert _covered(path, [dep]) and not _covered(path, ["mir/model"])
