"""Check the package's import graph: no cycle, no upward import.

``python scripts/check_layers.py`` prints the module graph by layer and exits 1
on a violation; ``tests/test_architecture.py`` runs the same check. Layers,
bottom to top (a module may import only from its own layer or below):

    core → storage → services → glue → web → extension (+ the package __init__)

Only imports that run at import time count, including those inside functions
(the rule allows those for optional dependencies only, and never upward).
"""

from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_sessionauth"
LAYERS = ["core", "storage", "services", "glue", "web", "extension"]
#: Top-level modules and the layer they belong to.
TOP_LEVEL = {
    "extension": "extension",
    "flask_login": "web",
    "testing": "web",
    "pytest_plugin": "web",
    "types": "storage",
    "__init__": "extension",
}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    head = module.split(".", 1)[0]
    return TOP_LEVEL.get(head, head)


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    if node.level == 0:
        if node.module is None or not node.module.startswith("flask_sessionauth"):
            return []
        base = node.module.removeprefix("flask_sessionauth").lstrip(".")
    else:
        parts = module.split(".") if module != "__init__" else []
        if not is_package:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
        base = ".".join([*parts, *([node.module] if node.module else [])])
    targets = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}" if base else alias.name
        targets.append(
            candidate
            if (PACKAGE / (candidate.replace(".", "/") + ".py")).exists()
            or (PACKAGE / candidate.replace(".", "/")).is_dir()
            else base
        )
    return [t or "__init__" for t in targets]


def imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not _type_checking_only(tree, node):
                edges.update(t for t in resolve(module, node, path.name == "__init__.py") if t != module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("flask_sessionauth."):
                        edges.add(alias.name.removeprefix("flask_sessionauth."))
        graph[module] = edges
    return graph


def _type_checking_only(tree: ast.Module, target: ast.ImportFrom) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "t.TYPE_CHECKING",
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            if any(child is target for stmt in node.body for child in ast.walk(stmt)):
                return True
    return False


def violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, edges in graph.items():
        for target in edges:
            if target not in graph:
                continue
            if LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(module)):
                problems.append(f"upward import: {module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
            if target in ("extension", "__init__") and module != "__init__":
                problems.append(f"{module} imports {target}: only the package __init__ may")
    for cycle in cycles(graph):
        problems.append("import cycle: " + " -> ".join(cycle))
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def main() -> int:
    graph = imports()
    for layer in LAYERS:
        members = sorted(m for m in graph if layer_of(m) == layer)
        print(f"{layer}: {', '.join(members)}")
    problems = violations(graph)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} internal imports, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
