"""The package's layers: no import cycle anywhere, and each layer imports only the layers
below it.  Every import statement counts, including those inside functions (a lazy import
is still a dependency), found by parsing the installed package's source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import segscore

PKG_DIR = Path(segscore.__file__).resolve().parent

# layer -> the layers it may import ("" is the package root, the public facade)
ALLOWED = {
    "_core": set(),
    "gpu": {"_core"},
    "metrics": {"_core", "gpu"},
    "calibration": {"_core", "gpu"},
    "probabilistic": {"_core", "gpu", "metrics"},
    "protocols": {"_core", "gpu", "metrics", "calibration", "probabilistic"},
    "lesion": {"_core", "gpu", "metrics"},
    "app": {"", "_core", "gpu", "metrics", "calibration", "probabilistic", "protocols", "lesion"},
    "monai": {"", "_core", "metrics", "calibration", "gpu"},
    "torchmetrics": {"", "_core", "metrics", "calibration", "probabilistic", "gpu"},
}


def module_files() -> dict:
    mods = {}
    for f in PKG_DIR.rglob("*.py"):
        parts = ["segscore", *f.relative_to(PKG_DIR).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def import_graph(mods: dict) -> dict:
    """{module: {segscore modules it imports}}, edges to its own parent packages left out
    (a module's parents are always initialised before it)."""
    graph = {m: set() for m in mods}
    for m, f in mods.items():
        base = m.split(".") if f.name == "__init__.py" else m.split(".")[:-1]
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    mod = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:  # the deepest module the name reaches
                    t = t.rpartition(".")[0]
                if t and t != m and not m.startswith(t + "."):
                    graph[m].add(t)
    return graph


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycles():
    found = cycles(import_graph(module_files()))
    assert not found, f"import cycles (each a set of modules importing one another): {found}"


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_each_layer_imports_only_the_layers_below():
    bad = []
    for m, deps in import_graph(module_files()).items():
        src = layer(m)
        if src not in ALLOWED:  # the root and the compiled modules
            continue
        for d in deps:
            dl = layer(d)
            if dl != src and dl not in ALLOWED[src] and d not in ("segscore._cpu", "segscore._cuda"):
                bad.append(f"{m} -> {d}")
    assert not bad, "imports against the layering (see docs/architecture.md):\n" + "\n".join(sorted(bad))


def test_import_segscore_loads_no_heavy_library():
    code = ("import sys, segscore\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'matplotlib', 'torch', 'cupy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
