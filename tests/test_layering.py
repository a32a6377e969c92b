"""The import structure: every module imports on its own and in any order; no cycles; nothing imports upward.

The layers are ARCHITECTURE.md's flow, highest first (a module may import its own layer or a
lower one; the graph, function-local imports included, must have no cycle):

    cli -> pipeline / web / server -> generate, edit, render, nle, provenance -> timeline,
    analysis, backends, prompts -> spec, catalog, media -> errors

Modules the flow does not name are placed where what they do puts them (see LAYERS).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path


from conftest import REPO

SRC = REPO / "src"

#: (layer, first name parts under dreamcut) -- 0 is the top. The longest matching prefix wins.
LAYERS: dict[tuple[str, ...], int] = {
    ("cli",): 0, ("__main__",): 0,
    ("pipeline",): 1, ("web",): 1, ("server",): 1, ("demo",): 1,
    ("ranking",): 1,    # how a project's take is judged: which file, which request (project, prompts, analysis)
    ("generate",): 2, ("edit",): 2, ("render",): 2, ("nle",): 2, ("provenance",): 2,
    ("importer",): 2,   # brings takes in from outside: catalog, media, provenance
    ("preview",): 2,    # runs short generations through the orchestrator
    ("timeline",): 3, ("analysis",): 3, ("backends",): 3, ("prompts",): 3, ("styles",): 3,
    ("project",): 3,    # a project folder: its spec and its catalog
    # the backend names a spec may say (parsing only, no backend imported at module level)
    ("backends", "registry"): 4,
    ("spec",): 4, ("catalog",): 4, ("media",): 4,
    ("cast",): 3,       # the shot list's cast: names, prompt words, request members (pure; beside prompts)
    ("portal",): 4,     # the zoom-through's window, shared by edit/transitions and the animatic (numpy/cv2 only)
    ("errors",): 5, (): 5,   # the package itself: a docstring and __version__
    ("_startup",): 5,   # process start-up (numba's cache, crash lines): imports nothing of dreamcut
}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "dreamcut").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def layer(module: str) -> int:
    parts = tuple(module.split(".")[1:])
    for n in range(len(parts), -1, -1):
        if parts[:n] in LAYERS:
            return LAYERS[parts[:n]]
    raise AssertionError(f"{module} has no layer: add it to LAYERS")


def imports(module: str, path: Path, known: set[str]) -> dict[str, int]:
    """dreamcut modules `module` imports (module level and inside functions) -> first line."""
    found: dict[str, int] = {}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:  # `if TYPE_CHECKING:` imports never run
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("dreamcut") and name != module:
                found.setdefault(name, node.lineno)
    return found


def test_every_module_has_a_layer_and_nothing_imports_upward():
    mods = modules()
    known = set(mods)
    upward = []
    for module, path in mods.items():
        for target, line in imports(module, path, known).items():
            if target == "dreamcut":
                continue
            if layer(target) < layer(module):
                upward.append(f"{path.relative_to(REPO)}:{line}: {module} (layer {layer(module)}) imports "
                              f"{target} (layer {layer(target)})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycles():
    mods = modules()
    known = set(mods)
    graph = {m: set(imports(m, p, known)) - {"dreamcut"} for m, p in mods.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


_IMPORT_EACH = r"""
import importlib, os, sys
third_party, names = sys.argv[1].split(","), sys.argv[2:]
for lib in third_party:  # loaded once here, so each fork below times only dreamcut's own imports
    try:
        importlib.import_module(lib)
    except BaseException:
        pass

def in_child(order):
    pid = os.fork()
    if pid == 0:  # a fresh state: nothing of dreamcut imported yet
        try:
            for name in order:
                importlib.import_module(name)
        except BaseException as e:
            print(f"{order[0] if len(order) == 1 else 'in order'}: {name}: {type(e).__name__}: {e}", flush=True)
            os._exit(1)
        os._exit(0)
    return os.waitpid(pid, 0)[1] == 0

ok = [in_child([n]) for n in names]               # each module alone
ok += [in_child(names), in_child(names[::-1])]    # all of them, in two orders
print("OK" if all(ok) else "FAILED")
"""


def _third_party() -> list[str]:
    libs: set[str] = set()
    for path in modules().values():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                libs |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                libs.add(node.module.split(".")[0])
    return sorted(lib for lib in libs if lib != "dreamcut" and lib not in sys.stdlib_module_names)


def test_every_module_imports_alone_and_in_any_order():
    names = sorted(set(modules()) - {"dreamcut.__main__"})  # `python -m dreamcut` runs the CLI
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.run([sys.executable, "-c", _IMPORT_EACH, ",".join(_third_party()), *names],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stdout + proc.stderr
