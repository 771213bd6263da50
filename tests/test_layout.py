"""The package's layout: each folder of the core serves one stage of the pipeline and imports only stages
before it, nothing imports in a cycle, and only the UI imports Streamlit. Read with ast over every
explorer/**.py: absolute and relative imports, at the top and inside functions (an import only for type
checking, under `if TYPE_CHECKING:`, runs never and does not count)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "explorer"

# stage of each top-level folder of explorer/; a folder imports its own stage's modules and earlier stages only
STAGES = {
    "data": 0,  # data sets, pixel rules, DatasetRef, units
    "model": 1,  # config, networks, distributions, objectives, encodings, devices, seeds
    "train": 2, "evaluation": 2,  # siblings: neither imports the other
    "latent": 3,  # paths, the map's fit, projections, neighbours, attribute vectors, sliders
    "store": 4,  # checkpoints, header, schema, saves, where a training writes
    "figures": 5, "web": 5,  # figures; the page's payload beside its JS
    "jobs": 6, "notebook": 6,  # trainings in the app; the notebook widget (siblings: neither imports the other)
    "api": 7,  # explorer/__init__.py and the public explorer/units.py
    "cli": 8, "ui": 8,
}
TOP = {"__init__": "api", "units": "api", "__main__": "cli"}  # the only modules left at explorer/'s top


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) == 1:
        return "api"
    if (PKG / parts[1]).is_dir():
        return parts[1]
    return TOP.get(parts[1], "?")


def imports(path: Path) -> list[tuple[str, int]]:
    """(absolute module, line) of every import in a file that runs (not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from explorer.x import y` imports the module explorer.x.y when there is one, else a name of explorer.x
            subs = [f"{mod}.{a.name}" for a in node.names]
            subs = [s for s in subs
                    if (REPO / (s.replace(".", "/") + ".py")).exists() or (REPO / s.replace(".", "/")).is_dir()]
            out += [(s, node.lineno) for s in subs]
            if len(subs) < len(node.names):
                out.append((mod, node.lineno))
    return out


FILES = sorted(PKG.rglob("*.py"))


def test_every_module_has_a_stage():
    """A new module goes in a folder (CONTRIBUTING.md says which); explorer/'s top keeps the API only."""
    loose = [module_name(f) for f in FILES if stage_of(module_name(f)) not in STAGES]
    assert not loose, f"modules outside any stage's folder (or a new folder missing from STAGES): {loose}"


def test_folders_import_only_earlier_stages():
    bad = []
    for f in FILES:
        me = module_name(f)
        mine = stage_of(me)
        for mod, line in imports(f):
            if not mod.startswith("explorer"):
                continue
            theirs = stage_of(mod)
            if theirs == mine:
                continue
            if theirs not in STAGES or STAGES[theirs] >= STAGES[mine]:
                bad.append(f"{f.relative_to(REPO)}:{line} ({mine}) imports {mod} ({theirs})")
    assert not bad, "imports against the pipeline's order:\n" + "\n".join(bad)


def test_only_the_ui_imports_streamlit():
    bad = [f"{f.relative_to(REPO)}:{line} imports {mod}" for f in FILES for mod, line in imports(f)
           if mod.split(".")[0] == "streamlit" and stage_of(module_name(f)) != "ui"]
    assert not bad, "the core must not import Streamlit:\n" + "\n".join(bad)


def test_no_import_cycles():
    """No cycle between modules (a package's __init__ counts as a module), lazy imports included."""
    known = {module_name(f) for f in FILES}
    graph = {m: set() for m in known}
    for f in FILES:
        for mod, _ in imports(f):
            # importing explorer.a.b runs explorer.a's __init__ too, but that is no edge of this module's making
            if mod in known and mod != module_name(f):
                graph[module_name(f)].add(mod)
    # Tarjan's strongly connected components
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not comps, f"import cycles: {comps}"


@pytest.mark.parametrize("url", ["map", "decoder", "interpolate", "maths", "train", "lesson"])
def test_every_page_file_exists(url):
    """ui/nav.py names each page's file by path, relative to the repository (where streamlit runs)."""
    text = (PKG / "ui" / "nav.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    pages = {e.elts[-1].value: e.elts[0].value for e in ast.walk(tree)
             if isinstance(e, ast.Tuple) and len(e.elts) == 4 and all(isinstance(x, ast.Constant) for x in e.elts)}
    assert (REPO / pages[url]).is_file()


def test_files_and_functions_stay_small():
    """Each module reads in one sitting: at most 250 lines, no function over 60."""
    long_files, long_functions = [], []
    for path in sorted(PKG.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 250:
            long_files.append(f"{path.relative_to(REPO)} ({text.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long_functions.append(f"{path.relative_to(REPO)}:{node.name}")
    assert not long_files and not long_functions, (long_files, long_functions)


def test_the_app_finds_the_bundled_checkpoints_without_a_setting(monkeypatch):
    """With no EXPLORER_TRAINED_DIR (a user's `streamlit run`), the app's folder of checkpoints is the repository's
    trained/ (a module moved a folder deeper once pointed it at explorer/trained, and every test set the variable)."""
    from explorer.ui.state import caches

    monkeypatch.delenv(caches.TRAINED_ENV, raising=False)
    assert caches.trained_dir() == REPO / "trained"
    assert any(caches.trained_dir().glob("*.safetensors"))
