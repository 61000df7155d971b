"""The import structure of `vigil`: no cycles between modules or between packages, no `__init__` importing its own
submodules, and the rooms' arrows pointing down (docs/architecture.md).

Read from the source with `ast`, so every import counts: inside functions, under `TYPE_CHECKING`, in `try` blocks. A
deferred import hides a cycle from the interpreter; it does not remove it from the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "vigil"

# Rooms, lowest first; a module may import its own room and the rooms listed before it, never one listed after it
# (docs/architecture.md). Modules not named here (config, formats, the facade, training, export) are held only to the
# no-cycle rules.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("vigil.results", "vigil.errors"),
    ("vigil.ops", "vigil.imaging", "vigil.db"),
    ("vigil.registry", "vigil.runtimes"),
    ("vigil.tasks", "vigil.faces"),
    ("vigil.execute",),
    ("vigil.sources", "vigil.tracks"),
    ("vigil.events",),
    ("vigil.http", "vigil.page", "vigil.seed", "vigil.batch"),
    ("vigil.serve", "vigil.cli"),
)



def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name; a package's `__init__.py` is the package's own name."""
    found = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def is_package(module: str, modules: dict[str, Path]) -> bool:
    return modules[module].name == "__init__.py"


def imported_by(module: str, modules: dict[str, Path]) -> set[str]:
    """The `vigil` modules `module` imports, anywhere in its body. `from P import x` imports P's `__init__` and, when
    x is a submodule, x too; `import a.b.c` imports a.b.c (and its packages' `__init__`s, which must stay empty of
    submodule imports, a rule checked on its own)."""
    tree = ast.parse(modules[module].read_text(), filename=str(modules[module]))
    package = module if is_package(module, modules) else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(nearest_module(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve_relative(node, package)
            targets.add(nearest_module(base, modules))
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    targets.add(f"{base}.{alias.name}")
    targets.discard("")
    targets.discard(module)
    return targets


def resolve_relative(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def nearest_module(name: str, modules: dict[str, Path]) -> str:
    """`vigil.a.b` itself, or the closest enclosing module that exists ('' for anything outside `vigil`)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def module_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {module: imported_by(module, modules) for module in modules}


def package_of(module: str, modules: dict[str, Path]) -> str:
    """A directory is one package; the top-level modules of `vigil` (results, errors, api…) are rooms of their
    own, so each stands alone rather than making `vigil` one node that every room would both import and be."""
    if is_package(module, modules):
        return module
    parent = module.rpartition(".")[0]
    return module if parent == ROOT else parent


def package_graph() -> dict[str, set[str]]:
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for module, targets in module_graph().items():
        source = package_of(module, modules)
        edges = graph.setdefault(source, set())
        edges.update(package_of(target, modules) for target in targets)
        edges.discard(source)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one node (Tarjan), each shown as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(closed_path(graph, set(component)) for component in components)


def closed_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first node (breadth-first), e.g. [a, b, a]."""
    start = min(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, set()) & component):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in parents:
                    parents[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def show(cycles: Iterable[list[str]]) -> str:
    return "\n".join("  " + " → ".join(cycle) for cycle in cycles)


def test_no_module_import_cycles():
    cycles = find_cycles(module_graph())
    assert not cycles, f"import cycles between modules:\n{show(cycles)}"


def test_no_package_import_cycles():
    cycles = find_cycles(package_graph())
    assert not cycles, f"import cycles between packages:\n{show(cycles)}"


def test_no_init_imports_its_own_submodules():
    modules = module_files()
    offenders = [
        f"{module} imports {target}"
        for module in modules
        if is_package(module, modules)
        for target in sorted(imported_by(module, modules))
        if target.startswith(f"{module}.")
    ]
    assert not offenders, "an __init__ imports its own submodules (the facade is vigil.api):\n" + "\n".join(offenders)


def layer_of(module: str) -> int | None:
    for rank, rooms in enumerate(LAYERS):
        if any(module == room or module.startswith(f"{room}.") for room in rooms):
            return rank
    return None


def test_arrows_point_down():
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}…) imports {target} ({LAYERS[layer_of(target)][0]}…)"
        for module, targets in sorted(module_graph().items())
        if layer_of(module) is not None
        for target in sorted(targets)
        if layer_of(target) is not None and layer_of(target) > layer_of(module)
    ]
    assert not upward, "imports pointing up the rooms:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b", "a"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c", "a"]]),
        ({"a": {"b", "c"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b", "a"], ["c", "d", "c"]]),
    ],
)
def test_find_cycles_shows_each_cycle(graph, expected):
    assert find_cycles(graph) == expected


def test_tests_and_benchmarks_read_only_files_inside_the_repository():
    """A fresh clone tests itself: real images come from tests/fixtures (fixture_image), never from a folder
    beside the clone."""
    repo = SRC.parent
    # spelled in halves so that this file does not name them itself
    outside = ("../" + "shared", "test" + "data", '"sha' + 'red" / ')
    offenders = [
        f"{path.relative_to(repo)}:{number}: {line.strip()}"
        for folder in ("tests", "benchmarks")
        for path in sorted((repo / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(name in line for name in outside)
    ]
    assert not offenders, "files outside the repository:\n" + "\n".join(offenders)


def test_every_fixture_image_is_listed_in_sources():
    fixtures = SRC.parent / "tests" / "fixtures"
    sources = (fixtures / "SOURCES.md").read_text()
    missing = [p.name for p in sorted((fixtures / "images").iterdir()) if p.name not in sources]
    assert not missing, f"tests/fixtures/SOURCES.md does not say where these come from: {missing}"


# -- the house rules (issue 19): what a newcomer reads

LOOSE_MODULES_AT_MOST = 8
FILE_LINES_AT_MOST = 400
FUNCTION_LINES_AT_MOST = 60
REPO = SRC.parent


def test_few_loose_modules_at_the_top():
    loose = sorted(p.name for p in (SRC / ROOT).glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(loose) <= LOOSE_MODULES_AT_MOST, f"{len(loose)} loose modules at the top of src/vigil: {loose}"


def test_no_file_too_long():
    long = [f"{p.relative_to(SRC)} ({n})" for p in (SRC / ROOT).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > FILE_LINES_AT_MOST]
    assert not long, f"files over {FILE_LINES_AT_MOST} lines (two jobs: split along the job): {long}"


def test_no_function_too_long():
    long = []
    for path in (SRC / ROOT).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.end_lineno - node.lineno >= FUNCTION_LINES_AT_MOST:
                long.append(f"{path.relative_to(SRC)}:{node.name}")
    assert not long, f"functions of {FUNCTION_LINES_AT_MOST} lines or more: {long}"


def test_every_file_path_written_in_src_and_docs_exists():
    """A `dir/file.py` named in a docstring, comment or doc page is a file of the tree (no stale pointers)."""
    import re

    known = {"/" + str(p.relative_to(REPO)) for p in REPO.rglob("*.py") if ".venv" not in p.parts}
    stale = []
    for path in [*(SRC / ROOT).rglob("*.py"), *(REPO / "docs").rglob("*.md")]:
        for ref in set(re.findall(r"(?<![\w./-])((?:[a-z_]+/)+[a-z_]+\.py)\b", path.read_text())):
            if not any(k.endswith("/" + ref) for k in known):
                stale.append(f"{path.relative_to(REPO)} names {ref}")
    assert not stale, "paths to files that do not exist:\n" + "\n".join(sorted(stale))


def test_detection_keys_and_the_person_label_are_spelt_once():
    """The `class_name` key is written only in results.py (CLASS_NAME), and only registry/labels.py gives the
    person label a name (PERSON): every other module imports them."""
    import re

    spelt = [f"{p.relative_to(SRC)}: 'class_name'" for p in (SRC / ROOT).rglob("*.py")
             if p.name != "results.py" and re.search(r"""["']class_name["']""", p.read_text())]
    for path in (SRC / ROOT).rglob("*.py"):
        if path == SRC / ROOT / "registry" / "labels.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            values = node.value.elts if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple) else \
                [node.value] if isinstance(node, ast.Assign) else []
            if any(isinstance(v, ast.Constant) and v.value == "person" for v in values):
                spelt.append(f"{path.relative_to(SRC)}:{node.lineno}: the person label defined again")
    assert not spelt, "a detection key or the person label written out instead of imported:\n" + "\n".join(spelt)
