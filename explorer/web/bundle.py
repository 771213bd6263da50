"""One ES module from the page's modules, with no npm and no network: the entry and every module it imports through
relative paths, each module's body in its own function scope (so two modules' private names cannot collide), its
imports bound to the exporting module's names, and the entry's own exports (`export default`, named) kept. The
result is what Streamlit's `js=`, an anywidget's `_esm` and a `<script type="module">` in one HTML file take.

The grammar read is the one the page's modules are written in, checked here rather than guessed:
  import {a, b as c} from "./x.js";   import * as X from "./x.js";   import d from "./x.js";   import "./x.js";
  export function f / export async function f / export class C / export const|let|var NAME = ... (one name each)
  export {a, b as c};   export default <expression or function>
Statements start at the beginning of a line. Outside the entry, `export default X` becomes a constant (a
named default function is not bound by its name there). Exports are bound once, when the importing module runs (live
rebinding of an exported `let` is not followed): the modules export functions and constants."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
_ID = r"[A-Za-z_$][\w$]*"
_IMPORT = re.compile(r"^import\b(?:\s*(?P<what>[^;\"']*?)\s*from)?\s*[\"'](?P<spec>[^\"']+)[\"'][ \t]*;?", re.M)
_EXPORT = re.compile(r"^export\b[ \t]*", re.M)
_DECL = re.compile(rf"(?:async\s+)?(?:function\s*\*?|class|const|let|var)\s+({_ID})")
_LIST = re.compile(r"\{([^}]*)\}[ \t]*;?")
PREFIX = "__vx_"  # the bundle's own names; a module may not use it


class BundleError(ValueError):
    """An import the bundler cannot resolve, a cycle, or a statement outside the grammar it reads."""


@dataclass
class Module:
    path: Path
    body: str  # the source with its import statements taken out and `export` keywords resolved
    imports: list[tuple[Path, str | None]] = field(default_factory=list)  # (module, binding clause or None)
    exports: dict[str, str] = field(default_factory=dict)  # exported name -> local name


def _pairs(text: str, where: str) -> list[tuple[str, str]]:
    """`a, b as c` -> [(a, a), (b, c)]."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(rf"({_ID})(?:\s+as\s+({_ID}))?", part)
        if not m:
            raise BundleError(f"{where}: cannot read {part!r} in a {{...}} list")
        out.append((m.group(1), m.group(2) or m.group(1)))
    return out


def _one_name(stmt: str, where: str) -> None:
    """`export const a = 1, b = 2` would export a alone here: refused, one name a statement."""
    depth = 0
    for i, ch in enumerate(stmt):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and (ch == ";" or ch == "\n" and stmt[:i].rstrip()[-1:] not in ",=([{"):
            return  # the statement's end
        if ch == "," and depth == 0 and re.match(rf",\s*{_ID}\s*=", stmt[i:]):
            raise BundleError(f"{where}: export one name a statement (`export const a = ...;` each)")


def _exports(src: str, entry: bool, where: str) -> tuple[str, dict[str, str]]:
    """The body with `export` resolved (kept as is in the entry) and the module's exported names."""
    exports: dict[str, str] = {}
    out, last = [], 0
    for m in _EXPORT.finditer(src):
        rest = src[m.end():]
        out.append(src[last:m.start()])
        last = m.end()
        if rest.startswith("default"):
            exports["default"] = f"{PREFIX}default"
            if not entry:
                out.append(f"const {PREFIX}default =")
                last += len("default")
        elif d := _DECL.match(rest):
            if rest.startswith(("const", "let", "var")):
                _one_name(rest, where)
            exports[d.group(1)] = d.group(1)
        elif (lst := _LIST.match(rest)) and not re.match(r"\s*from\b", rest[lst.end():]):
            exports.update((b, a) for a, b in _pairs(lst.group(1), where))
            if not entry:
                last += lst.end()  # the names are returned instead
        else:
            raise BundleError(f"{where}: cannot bundle `export {rest.splitlines()[0][:40]}` (re-exports and "
                              "`export *` are not read: import the names, then export them)")
        if entry:
            out.append(src[m.start():m.end()])
    out.append(src[last:])
    return "".join(out), exports


def _resolve(spec: str, importer: Path) -> Path:
    if not spec.startswith(("./", "../")):
        raise BundleError(f"{importer.name}: cannot resolve {spec!r}: only relative imports of the package's own "
                          "modules (\"./x.js\") are bundled, nothing is fetched")
    path = (importer.parent / spec).resolve()
    if not path.is_file():
        raise BundleError(f"{importer.name}: cannot resolve {spec!r}: no file {path}")
    return path


def _read(path: Path, entry: bool, text: str | None = None) -> Module:
    src = path.read_text(encoding="utf-8") if text is None else text
    if PREFIX in src:
        raise BundleError(f"{path.name}: the name prefix {PREFIX!r} is the bundle's own")
    imports = [(_resolve(m.group("spec"), path), m.group("what") or None) for m in _IMPORT.finditer(src)]
    body, exports = _exports(_IMPORT.sub("", src), entry, path.name)
    if re.search(r"^\s*import\b(?!\s*[(.])|^[ \t]+export\b", body, re.M):
        raise BundleError(f"{path.name}: an import or export statement the bundler cannot read (one starting "
                          "at a line's start, as in bundle.py's docstring)")
    return Module(path, body, imports, exports)


def _order(entry: Path, text: str | None) -> list[Module]:
    """The modules in an order where each comes after those it imports, the entry last; a cycle is refused."""
    done: dict[Path, Module] = {}
    visiting: list[Path] = []

    def visit(path: Path, is_entry: bool) -> None:
        if path in done:
            return
        if path in visiting:
            loop = [p.name for p in visiting[visiting.index(path):]] + [path.name]
            raise BundleError("import cycle: " + " -> ".join(loop))
        visiting.append(path)
        mod = _read(path, is_entry, text if is_entry else None)
        for dep, _ in mod.imports:
            visit(dep, False)
        visiting.pop()
        done[path] = mod

    visit(entry, True)
    return list(done.values())


def _bindings(mod: Module, names: dict[Path, str], modules: dict[Path, Module]) -> list[str]:
    """A module's import statements as constants bound to the exporting modules' namespaces."""
    out = []
    for dep, what in mod.imports:
        ns, where = names[dep], f"{mod.path.name}: import from {dep.name}"
        if what is None:
            continue
        head, _, tail = what.partition("{") if "{" in what else (what, "", "")
        for part in filter(None, (p.strip() for p in head.split(","))):
            star = re.fullmatch(rf"\*\s*as\s+({_ID})", part)
            if star:
                out.append(f"const {star.group(1)} = {ns};")
            elif re.fullmatch(_ID, part):
                _need(modules[dep], "default", where)
                out.append(f"const {part} = {ns}.default;")
            else:
                raise BundleError(f"{where}: cannot read {part!r}")
        if tail:
            pairs = _pairs(tail.rstrip().removesuffix("}"), where)
            for a, _ in pairs:
                _need(modules[dep], a, where)
            out.append("const { " + ", ".join(a if a == b else f"{a}: {b}" for a, b in pairs) + f" }} = {ns};")
    return out


def _need(mod: Module, name: str, where: str) -> None:
    if name not in mod.exports:
        raise BundleError(f"{where}: {mod.path.name} does not export {name!r}")


def exported_names(path: Path) -> list[str]:
    """The names a module exports, as the bundler reads them."""
    return sorted(_read(Path(path).resolve(), False).exports)


def bundle(entry: str | Path, *, root: Path = HERE, text: str | None = None) -> str:
    """One ES module: entry (a path under root, e.g. "streamlit/latent_map.js") and what it imports. text: the
    entry's source in place of its file (a page's own small entry; imports resolve from where the file would be)."""
    entry_path = (root / entry).resolve()
    if text is None and not entry_path.is_file():
        raise BundleError(f"no module {entry_path}")
    mods = _order(entry_path, text)
    modules = {m.path: m for m in mods}
    names = {m.path: f"{PREFIX}{i}" for i, m in enumerate(mods)}

    def rel(p: Path) -> str:
        return p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name

    out = [f"// One ES module, bundled by explorer/web/bundle.py from {rel(entry_path)} and the modules it imports."]
    for mod in mods[:-1]:
        ret = ", ".join(f"{k}: {v}" if k != v else k for k, v in mod.exports.items())
        out += [f"// ---- {rel(mod.path)}", f"const {names[mod.path]} = (() => {{",
                *_bindings(mod, names, modules), mod.body.strip("\n"), f"return Object.freeze({{ {ret} }});", "})();"]
    out += [f"// ---- {rel(entry_path)}", *_bindings(mods[-1], names, modules), mods[-1].body.strip("\n")]
    return "\n".join(out) + "\n"
