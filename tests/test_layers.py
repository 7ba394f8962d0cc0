"""The package's layers, read from its own imports (module level and inside functions): no import
cycles, and what a user's run touches (inference) never imports training, evaluation or the CLI
(issue 28). The CLI and evaluation sit on top; training may use inference and evaluation."""

from __future__ import annotations

import ast
from pathlib import Path

import dockscore

PACKAGE = Path(dockscore.__file__).parent
UPPER = ("dockscore.training", "dockscore.evaluation", "dockscore.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    """module -> the dockscore modules it imports (``from dockscore.x import y`` counts y when y is a module)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "dockscore":
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.split(".")[0] == "dockscore")
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def layer(module: str) -> str:
    return next((u for u in UPPER if module == u or module.startswith(u + ".")), "inference")


def test_inference_never_imports_training_evaluation_or_the_cli():
    wrong = sorted(f"{m} -> {t}" for m, ts in package_imports().items() if layer(m) == "inference" and m != "dockscore"
                   for t in ts if layer(t) != "inference")
    assert not wrong, wrong


def test_evaluation_does_not_import_training_or_the_cli():
    wrong = sorted(f"{m} -> {t}" for m, ts in package_imports().items() if layer(m) == "dockscore.evaluation"
                   for t in ts if layer(t) in ("dockscore.training", "dockscore.cli"))
    assert not wrong, wrong


def test_no_import_cycles():
    graph = package_imports()
    graph["dockscore"] = set()  # the lazy top-level API names everything; nothing imports it for a cycle
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, cycles
