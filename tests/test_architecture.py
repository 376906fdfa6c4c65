"""The layering rules of docs/architecture.md, checked on every import statement of the tree."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("quant", "hdl", "verif", "synth")
THIRD_PARTY_OF_HARDWARE = ("numpy", "torch", "transformers", "safetensors", "scipy", "tabulate", "cocotb")

# layer -> the first-party layers it may import (besides itself)
ALLOWED = {
    "quant.core": set(),
    "quant.methods": {"quant.core"},
    "quant.study": {"quant.core", "quant.methods"},
    "hdl.datapath": set(),
    "hdl.soc": {"hdl.datapath"},
    "hdl.sw": {"hdl.datapath", "hdl.soc", "quant.core"},
    "hdl.generate": {"hdl.datapath", "hdl.soc", "hdl.core_file", "quant.core"},
    "hdl.core_file": {"hdl.datapath", "hdl.soc", "hdl.generate", "quant.core"},
    "verif": {"hdl.datapath", "hdl.soc", "hdl.sw", "hdl.generate", "quant.core"},
}
# Known exceptions, each with its reason; a new one needs a line here and in docs/architecture.md.
EXCEPTIONS = {
    ("hdl.soc.regmap", "quant.core.cli_policy"): "its command line follows the shared policy (imported in main)",
    ("hdl.soc.regmap", "quant.core.paths"): "its command line writes the header atomically (imported in main)",
    ("hdl.soc.regmap", "quant.core.golden"): "the C header's requantization macros take the golden model's "
                                             "limits (imported where the header is written)",
    ("hdl.sw.image", "quant.study.checkpoint"): "from_packed_file reads a fineq-v1 file; load_packed still lives "
                                                "with the model loading in quant.study.checkpoint",
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] in ("quant", "hdl") and len(parts) > 1 else parts[0]


def imports(path: Path, module: str):
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            # `from pkg import module` names the module itself
            yield from (f"{name}.{a.name}" for a in node.names)


def modules():
    for top in ("quant", "hdl", "verif"):
        for path in sorted((ROOT / top).rglob("*.py")):
            yield path, ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


@pytest.mark.parametrize("path, module", list(modules()), ids=[m for _, m in modules()])
def test_imports_respect_the_layers(path, module):
    own = layer_of(module)
    if own not in ALLOWED:  # quant.cli, quant.__main__, quant/__init__: the top may use everything
        return
    bad = []
    for name in imports(path, module):
        if name.split(".")[0] in FIRST_PARTY:
            target = layer_of(name)
            if target in (own, *ALLOWED[own]) or target in ("quant", "hdl"):
                continue
            if not any(module == m and name.startswith(t) for (m, t) in EXCEPTIONS):
                bad.append(name)
        elif own in ("hdl.datapath", "hdl.soc") and name.split(".")[0] in THIRD_PARTY_OF_HARDWARE:
            bad.append(name)  # the hardware description is Amaranth and the standard library only
    assert not bad, f"{module} imports {sorted(set(bad))} across the layers of docs/architecture.md"


def test_the_exceptions_are_still_needed():
    found = {(m, t) for path, m in modules() for name in imports(path, m) for (mm, t) in EXCEPTIONS
             if m == mm and name.startswith(t)}
    assert found == set(EXCEPTIONS), f"no longer needed: {set(EXCEPTIONS) - found}"
