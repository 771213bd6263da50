"""The numbers the page shares with Python (op codes, activations, spreads, kinds, map modes, slider score kinds)
are defined in Python once: explorer/web/codes.js is generated from them, and no other module writes one down."""
from __future__ import annotations

import re
from pathlib import Path

from explorer.web import codes
from explorer.web.sources import HERE

MODULES = sorted(p for p in HERE.rglob("*.js") if p.name != "codes.js")


def test_codes_js_is_what_python_writes() -> None:
    assert codes.PATH.read_text(encoding="utf-8") == codes.codes_js(), \
        "explorer/web/codes.js is stale: run python -m explorer.web.codes"


def test_no_module_keeps_a_copy_of_a_code() -> None:
    """No module defines a name codes.js exports, and none compares a coded header number or an op to a literal."""
    names = set(codes.codes())
    coded = r"\.(?:mode|kind|spread|out|likelihood|score_kind|op)\s*[!=]==?\s*\d|op\[0\]\s*[!=]==?\s*\d"
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        defined = set(re.findall(r"\b(?:const|let|var|function)\s+([A-Z_][A-Z0-9_]*)\b", text))
        assert not defined & names, f"{path.name} defines {defined & names}: import them from codes.js"
        assert not re.search(coded, text), f"{path.name}: {re.search(coded, text).group(0)}: use codes.js's name"


def _imported(path: Path) -> set[str]:
    found = re.findall(r'^import\s*\{([^}]*)\}\s*from\s*"\./codes\.js"', path.read_text(encoding="utf-8"), re.M)
    return {n.strip() for group in found for n in group.split(",") if n.strip()}


def test_the_forward_pass_reads_every_op_activation_and_spread_by_its_name() -> None:
    """vaenet.js imports every op code and names a function for each activation and spread codes.js lists."""
    vaenet = (HERE / "vaenet.js").read_text(encoding="utf-8")
    ops = {k for k in codes.codes() if k.startswith("OP_")}
    assert ops | {"ACTIVATIONS", "SPREADS", "OUT_CLAMP"} <= _imported(HERE / "vaenet.js")
    acts = re.search(r"const ACT = \{(.*?)\n\};", vaenet, re.S).group(1)
    assert re.findall(r"^  (\w+):", acts, re.M) == codes.codes()["ACTIVATIONS"]
    spread = re.search(r"const SPREAD = \{(.*?)\};", vaenet).group(1)
    assert re.findall(r"(\w+):", spread) == codes.codes()["SPREADS"]
