"""explorer/web/bundle.py: modules in a temporary folder bundled into one ES module. What each import binds, that
two modules' private names do not collide and that the entry's exports stay exports are checked by running the
bundle (in Node where it is installed; tests/test_web_modules.py runs the page's own bundles in Chromium), and
every refusal names its cause: an import it cannot resolve, a cycle, a name not exported, a statement it cannot
read."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from explorer.web.bundle import BundleError, bundle

MODULES = {
    "a.js": 'const helper = () => "a";\nexport function fa() { return helper(); }\nexport const K = 7;\n',
    "b.js": ('import { fa, K as seven } from "./a.js";\nconst helper = () => "b";\n'
             'export function fb() { return helper() + fa() + seven; }\nexport default { name: "b" };\n'),
    "sub/c.js": 'import * as A from "../a.js";\nimport B, { fb } from "../b.js";\nimport "../side.js";\n'
                'const helper = 3;\nexport { helper as three };\n'
                'export default function () { return [A.fa(), A.K, fb(), B.name, helper, globalThis.side]; }\n',
    "side.js": "globalThis.side = 'ran';\n",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def run_node(tmp_path: Path, code: str, probe: str = "") -> object:
    """Run the bundle as a module in Node (probe: a module that imports it as M) and read what it prints."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the page's bundles run in Chromium in tests/test_web_modules.py)")
    (tmp_path / "out.mjs").write_text(code)
    args = ["--input-type=module", "-e", f"import * as M from {(tmp_path / 'out.mjs').as_uri()!r};\n{probe}"]
    out = subprocess.run([node, *(args if probe else [str(tmp_path / "out.mjs")])], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_bundle_binds_imports_and_keeps_the_entrys_exports(tmp_path: Path) -> None:
    root = write(tmp_path / "src", MODULES)
    code = bundle("sub/c.js", root=root)
    assert "import " not in code and "export default function" in code and "export { helper as three }" in code
    assert code.index("// ---- a.js") < code.index("// ---- b.js") < code.index("// ---- sub/c.js")  # imports first
    got = run_node(tmp_path, code, "console.log(JSON.stringify([M.default(), M.three, Object.keys(M).sort()]));")
    assert got == [["a", 7, "ba7", "b", 3, "ran"], 3, ["default", "three"]]  # three helpers, none collides


def test_each_module_runs_once_in_dependency_order(tmp_path: Path) -> None:
    root = write(tmp_path, {"log.js": "export const seen = [];\n",
                            "x.js": 'import { seen } from "./log.js";\nseen.push("x");\nexport const X = 1;\n',
                            "y.js": 'import { seen } from "./log.js";\nimport { X } from "./x.js";\nseen.push("y");\n'
                                    "export const Y = X + 1;\n",
                            "main.js": 'import { seen } from "./log.js";\nimport { X } from "./x.js";\n'
                                       'import { Y } from "./y.js";\nconsole.log(JSON.stringify([seen, X, Y]));\n'})
    assert run_node(tmp_path, bundle("main.js", root=root)) == [["x", "y"], 1, 2]


def test_an_entrys_text_replaces_its_file(tmp_path: Path) -> None:
    root = write(tmp_path, MODULES)
    code = bundle("page.js", root=root, text='import { fb } from "./b.js";\nconsole.log(JSON.stringify(fb()));\n')
    assert run_node(tmp_path, code) == "ba7"


@pytest.mark.parametrize("files,entry,message", [
    ({"m.js": 'import { x } from "lodash";\n'}, "m.js", "cannot resolve 'lodash'"),
    ({"m.js": 'import { x } from "./gone.js";\n'}, "m.js", "cannot resolve './gone.js'"),
    ({"m.js": 'import { y } from "./n.js";\nexport const x = 1;\n',
      "n.js": 'import { x } from "./m.js";\nexport const y = 2;\n'}, "m.js", "import cycle: m.js -> n.js -> m.js"),
    ({"m.js": 'import { nope } from "./n.js";\n', "n.js": "export const y = 2;\n"}, "m.js", "does not export 'nope'"),
    ({"m.js": 'import d from "./n.js";\n', "n.js": "export const y = 2;\n"}, "m.js", "does not export 'default'"),
    ({"m.js": 'export * from "./n.js";\n', "n.js": "export const y = 2;\n"}, "m.js", "cannot bundle `export *"),
    ({"m.js": 'export { y } from "./n.js";\n', "n.js": "export const y = 2;\n"}, "m.js", "re-exports"),
    ({"m.js": 'import { a } from "./n.js";\n', "n.js": "export const a = [1, 2], b = 3;\n"}, "m.js", "one name"),
    ({"m.js": "const __vx_0 = 1;\n"}, "m.js", "the bundle's own"),
    ({"m.js": 'function f() {\n  import("./n.js");\n}\n  import { y } from "./n.js";\n', "n.js": ""}, "m.js",
     "cannot read"),
    ({}, "none.js", "no module"),
])
def test_what_it_cannot_bundle_is_refused_by_name(tmp_path: Path, files: dict, entry: str, message: str) -> None:
    root = write(tmp_path, files)
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace("*", r"\*").replace(".", r"\.")):
        bundle(entry, root=root)


def test_a_list_in_an_export_is_not_mistaken_for_two_names(tmp_path: Path) -> None:
    root = write(tmp_path, {"m.js": 'import { A, f } from "./n.js";\nconsole.log(JSON.stringify([A, f(1, 2)]));\n',
                            "n.js": "export const A = [1, { b: 2, c: 3 }];\nexport const f = (x, y) => x + y;\n"})
    assert run_node(tmp_path, bundle("m.js", root=root)) == [[1, {"b": 2, "c": 3}], 3]
