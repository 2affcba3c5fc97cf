"""The shape of the code as a newcomer meets it, read statically from the source (ast): the layers of the shared
layer import only downwards, no module imports itself through others, only the adapters talk to AWS, and no function
of the shared layer or the Lambda handlers is longer than fifty lines.

The layers of shared/portal_import/ (docs/developers/architecture.md):
    domain/     pure rules and values; imports nothing of the project but itself
    ports, errors, config, observability, retry, records: the vocabulary the flows and adapters share
    flows/      the use cases, through the ports
    aws/        the adapters: the only modules that import boto3 or botocore
    wiring      builds each flow's dependencies from the adapters
and above them the Lambda handlers (functions/), which go through wiring, never to an adapter. The operator CLI and
the local runtime sit outside; of the CLI, deployment.py, errors.py and inspection.py are its adapters, and the local
runtime is the embedded AWS itself.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each folder whose packages are importable by their names (the `where` of pyproject.toml), and its packages.
PACKAGE_ROOTS = {"shared": "portal_import", "cli": "portal_import_cli", "local": "portal_import_local"}
# Each function's folder is its own root on Lambda (its CodeUri): its modules import each other by bare names.
FUNCTIONS = "functions"

_VOCABULARY = {
    "portal_import.ports",
    "portal_import.errors",
    "portal_import.config",
    "portal_import.observability",
    "portal_import.retry",
    "portal_import.records",
}
# Each layer (a module, or a package and everything in it) and the layers it may import, besides itself.
LAYERS: dict[str, set[str]] = {
    "portal_import.domain": set(),
    "portal_import.errors": set(),
    "portal_import.config": set(),
    "portal_import.observability": set(),
    "portal_import.invocation": set(),
    "portal_import.ports": {"portal_import.domain"},
    "portal_import.records": {"portal_import.domain"},
    "portal_import.retry": {"portal_import.errors", "portal_import.observability"},
    "portal_import.flows": {"portal_import.domain", *_VOCABULARY},
    # the Cognito adapter reads the deadline of the request it answers (invocation.calls_deadline)
    "portal_import.aws": {"portal_import.domain", "portal_import.invocation", *_VOCABULARY},
    "portal_import.wiring": {"portal_import.domain", "portal_import.flows", "portal_import.aws", *_VOCABULARY},
    "functions": {
        "portal_import.domain",
        "portal_import.flows",
        "portal_import.wiring",
        "portal_import.invocation",
        *_VOCABULARY,
    },
}
# The modules that may import boto3 or botocore: the shared layer's adapters, the CLI's, and the local runtime.
AWS_LIBRARIES = {"boto3", "botocore", "mypy_boto3_dynamodb", "mypy_boto3_s3", "mypy_boto3_sqs"}
ADAPTERS = (
    "portal_import.aws",
    "portal_import_cli.deployment",
    "portal_import_cli.errors",
    "portal_import_cli.inspection",  # what `doctor` reads of the account and the stack
    "portal_import_local",
)
# Libraries the domain may not use either: it is pure, testable with plain values.
NOT_IN_THE_DOMAIN = AWS_LIBRARIES | {"aws_lambda_powertools", "moto"}


def test_each_layer_imports_only_the_layers_beneath_it() -> None:
    # Given every module of the shared layer and the functions, and the graph of their imports of each other
    modules = dict(_modules(ROOT))
    assert {"portal_import.domain.reader", "portal_import.flows.send", "portal_import.aws.ledger"} <= set(modules)
    # Then each import goes to its own layer or one its layer may use
    assert _layer_violations(modules) == []


def test_only_the_adapters_import_boto3_or_botocore() -> None:
    modules = dict(_modules(ROOT))
    assert _library_violations(modules) == []


def test_no_module_imports_itself_through_others() -> None:
    # Given every module of the shared layer, the functions, the operator CLI and the local runtime
    modules = dict(_modules(ROOT))
    assert {"portal_import.domain.reader", "portal_import_cli.main", "portal_import_local.runtime"} <= set(modules)
    assert "functions.splitter.app" in modules
    # When the graph of their imports of each other is built (imports inside functions and TYPE_CHECKING too)
    # Then it has no cycle
    cycles = _cycle_report(modules)
    assert cycles == [], "modules that import themselves through others:\n" + "\n".join(cycles)


# The checks above fail when they should: each is run on a small tree with the fault in it.
_FAULTY_TREES = {
    "a domain module importing a flow": {
        "shared/portal_import/domain/job.py": "from portal_import.flows import work\n",
        "shared/portal_import/flows/work.py": "from portal_import.domain import job\n",
    },
    "a flow importing an adapter": {
        "shared/portal_import/flows/send.py": "import portal_import.aws.mailer\n",
        "shared/portal_import/aws/mailer.py": "",
    },
    "a handler importing an adapter": {
        "functions/worker/app.py": "def handler():\n    from portal_import.aws.jobs import Jobs\n",
        "shared/portal_import/aws/jobs.py": "",
    },
}


@pytest.mark.parametrize("fault", sorted(_FAULTY_TREES))
def test_the_layer_check_finds_a_layer_violation(tmp_path: Path, fault: str) -> None:
    modules = dict(_modules(_tree(tmp_path, _FAULTY_TREES[fault])))
    assert len(_layer_violations(modules)) == 1


def test_the_library_check_finds_botocore_outside_the_adapters(tmp_path: Path) -> None:
    tree = {
        "shared/portal_import/flows/send.py": "from botocore.exceptions import ClientError\n",
        "shared/portal_import/domain/job.py": "import aws_lambda_powertools\n",
        "shared/portal_import/aws/mailer.py": "import boto3\n",
    }
    found = _library_violations(dict(_modules(_tree(tmp_path, tree))))
    assert [line.split(" ")[0] for line in found] == ["portal_import.domain.job", "portal_import.flows.send"]


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    tree = {
        "shared/portal_import/flows/a.py": "from portal_import.flows import b\n",
        "shared/portal_import/flows/b.py": "from portal_import.flows.c import thing\n",
        "shared/portal_import/flows/c.py": "import portal_import.flows.a\n",
    }
    cycles = _cycle_report(dict(_modules(_tree(tmp_path, tree))))
    assert cycles == [
        "portal_import.flows.a -> portal_import.flows.b -> portal_import.flows.c -> portal_import.flows.a"
    ]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _layer_of(module: str) -> str | None:
    """The layer a module belongs to: the longest layer name it is, or is inside."""
    owners = [layer for layer in LAYERS if module == layer or module.startswith(layer + ".")]
    return max(owners, key=len, default=None)


def _layer_violations(modules: dict[str, Path]) -> list[str]:
    known = set(modules)
    found = []
    for name, path in sorted(modules.items()):
        layer = _layer_of(name)
        if layer is None:
            continue
        for target in sorted(_imports(name, path, known)):
            target_layer = _layer_of(target)
            if target_layer is None or target_layer == layer or target_layer in LAYERS[layer]:
                continue
            found.append(f"{name} ({layer}) imports {target} ({target_layer})")
    return found


def _library_violations(modules: dict[str, Path]) -> list[str]:
    found = []
    for name, path in sorted(modules.items()):
        used = _libraries(path)
        if not name.startswith(ADAPTERS) and used & AWS_LIBRARIES:
            found.append(f"{name} imports {', '.join(sorted(used & AWS_LIBRARIES))}")
        elif _layer_of(name) == "portal_import.domain" and used & NOT_IN_THE_DOMAIN:
            found.append(f"{name} imports {', '.join(sorted(used & NOT_IN_THE_DOMAIN))}")
    return found


def _libraries(path: Path) -> set[str]:
    """The top-level names of every absolute import of a module (imports inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def _cycle_report(modules: dict[str, Path]) -> list[str]:
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    return [" -> ".join([*cycle, cycle[0]]) for cycle in _cycles(graph)]


def _modules(root: Path) -> Iterator[tuple[str, Path]]:
    """(dotted name, file) of each module; symbolic links to folders (the runtime's application/) are not followed."""
    for folder, package in PACKAGE_ROOTS.items():
        base = root / folder
        for path in _python_files(base / package):
            parts = path.relative_to(base).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path
    for path in _python_files(root / FUNCTIONS):
        yield ".".join(path.relative_to(root).with_suffix("").parts), path


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
    for name, path in _modules(ROOT):
        if not name.startswith(("portal_import.", "functions.")) and name != "portal_import":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # Then each, from its `def` (its decorators not counted) to its last line, fits in the limit
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long_ones.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long_ones == [], "functions over 50 lines:\n" + "\n".join(long_ones)
