"""The shape of the code as a newcomer meets it, read statically from the source (ast): no module imports itself
through others, and no function of the shared layer or the Lambda handlers is longer than fifty lines."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each folder whose packages are importable by their names (the `where` of pyproject.toml), and its packages.
PACKAGE_ROOTS = {"shared": "portal_import", "cli": "portal_import_cli", "local": "portal_import_local"}
# Each function's folder is its own root on Lambda (its CodeUri): its modules import each other by bare names.
FUNCTIONS = ROOT / "functions"


def test_no_module_imports_itself_through_others() -> None:
    # Given every module of the shared layer, the functions, the operator CLI and the local runtime
    modules = dict(_modules())
    assert {"portal_import.domain.reader", "portal_import_cli.main", "portal_import_local.runtime"} <= set(modules)
    assert "functions.splitter.app" in modules
    # When the graph of their imports of each other is built (imports inside functions and TYPE_CHECKING too)
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    # Then it has no cycle
    cycles = [" -> ".join([*cycle, cycle[0]]) for cycle in _cycles(graph)]
    assert cycles == [], "modules that import themselves through others:\n" + "\n".join(cycles)


def _modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, file) of each module; symbolic links to folders (the runtime's application/) are not followed."""
    for folder, package in PACKAGE_ROOTS.items():
        base = ROOT / folder
        for path in _python_files(base / package):
            parts = path.relative_to(base).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path
    for path in _python_files(FUNCTIONS):
        yield ".".join(path.relative_to(ROOT).with_suffix("").parts), path


def _python_files(top: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(top):
        subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
        yield from (Path(folder) / name for name in sorted(files) if name.endswith(".py"))


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The known modules `name` imports, and the packages whose __init__ that import runs (not its own)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    function_dir = name.rsplit(".", 1)[0] + "." if name.startswith("functions.") else None
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            targets.add(source)
            targets |= {f"{source}.{alias.name}" for alias in node.names}
    if function_dir:
        targets |= {function_dir + target for target in targets}
    found = {target for target in targets if target in known}
    own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)} | {name}
    for target in list(found):
        parts = target.split(".")
        found |= {".".join(parts[:i]) for i in range(1, len(parts))} & known
    return found - own_packages


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that reach each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in sorted(graph[node]):
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            group: set[str] = set()
            while node not in group:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A path from the group's first module back to itself, within the group (breadth first: a shortest one)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for after in sorted(graph[node] & group):
                if after == start:
                    return paths[node]
                if after not in paths:
                    paths[after] = [*paths[node], after]
                    following.append(after)
        frontier = following
    return sorted(group)


# The longest a function of the shared layer or of a Lambda handler may be: one that is longer mixes decisions
# with the I/O around them, and its decisions cannot be tested with plain values.
MAX_FUNCTION_LINES = 50


def test_no_function_of_the_shared_layer_or_the_functions_is_longer_than_fifty_lines() -> None:
    # Given every function and method of shared/ and functions/, nested ones included
    long_ones = []
    for name, path in _modules():
        if not name.startswith(("portal_import.", "functions.")) and name != "portal_import":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # Then each, from its `def` (its decorators not counted) to its last line, fits in the limit
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long_ones.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long_ones == [], "functions over 50 lines:\n" + "\n".join(long_ones)
