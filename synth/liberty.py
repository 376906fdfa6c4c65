"""A small Liberty (.lib) reader: cell areas, leakage, pin capacitances, functions and the
internal-power tables the energy estimate needs.

Only the subset of the format that standard-cell libraries such as OSU 0.18 um use is
understood: groups ``name (args) { ... }``, simple attributes ``name : value ;`` and complex
attributes ``name (args) ;``, with C comments and backslash line continuations.

Units follow the library header. For ``internal_power`` tables Liberty defines the energy unit as
``capacitive_load_unit * voltage_unit**2`` (pF * V^2 = pJ for OSU 0.18 um); the reader converts
everything to pJ, pF, ns and nW so the caller never handles units.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Group", "LibertyError", "parse", "Library", "Cell", "Pin", "Table", "load"]


class LibertyError(ValueError):
    """The file is not Liberty as this reader understands it (message says where)."""


@dataclass
class Group:
    kind: str
    args: list[str]
    attrs: dict[str, list] = field(default_factory=dict)   # name -> list of values (repeatable)
    groups: list["Group"] = field(default_factory=list)

    def attr(self, name, default=None):
        v = self.attrs.get(name)
        return v[-1] if v else default

    def sub(self, kind):
        return [g for g in self.groups if g.kind == kind]


_TOKEN = re.compile(r'''
    (?P<ws>\s+|\\\n)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.|\\\n)*")
  | (?P<punct>[(){}:;,])
  | (?P<word>[^\s(){}:;,"]+)
''', re.S | re.X)


def _tokens(text):
    pos, line = 0, 1
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if not m:
            raise LibertyError(f"line {line}: cannot read {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        tok = m.group(kind)
        if kind == "string":
            yield "word", tok[1:-1].replace("\\\n", ""), line
        elif kind in ("punct", "word"):
            yield kind if kind == "word" else tok, tok, line
        line += tok.count("\n")
        pos = m.end()


def parse(text: str) -> Group:
    """Parse Liberty text into a tree of :class:`Group`; the root is the ``library`` group."""
    toks = list(_tokens(text))
    i = 0

    def expect(kind):
        nonlocal i
        if i >= len(toks):
            raise LibertyError(f"unexpected end of file, expected {kind!r}")
        t = toks[i]
        if t[0] != kind:
            raise LibertyError(f"line {t[2]}: expected {kind!r}, found {t[1]!r}")
        i += 1
        return t

    def body(group):
        nonlocal i
        while True:
            if i >= len(toks):
                raise LibertyError(f"group {group.kind}({', '.join(group.args)}) is not closed")
            if toks[i][0] == "}":
                i += 1
                return
            name = expect("word")[1]
            if toks[i][0] == ":":
                i += 1
                vals = []
                line = toks[i - 1][2]
                while toks[i][0] not in (";", "}") and toks[i][2] == line:
                    vals.append(toks[i][1])
                    i += 1
                if toks[i][0] == ";":
                    i += 1
                group.attrs.setdefault(name, []).append(" ".join(vals))
            elif toks[i][0] == "(":
                i += 1
                args = []
                while toks[i][0] != ")":
                    if toks[i][0] == "word":
                        args.append(toks[i][1])
                    elif toks[i][0] != ",":
                        raise LibertyError(f"line {toks[i][2]}: unexpected {toks[i][1]!r} in arguments")
                    i += 1
                i += 1
                if i < len(toks) and toks[i][0] == "{":
                    i += 1
                    g = Group(name, args)
                    body(g)
                    group.groups.append(g)
                else:
                    if i < len(toks) and toks[i][0] == ";":
                        i += 1
                    group.attrs.setdefault(name, []).append(args)
            else:
                raise LibertyError(f"line {toks[i][2]}: expected ':' or '(' after {name!r}")

    name = expect("word")[1]
    expect("(")
    args = []
    while toks[i][0] != ")":
        if toks[i][0] == "word":
            args.append(toks[i][1])
        i += 1
    i += 1
    expect("{")
    root = Group(name, args)
    body(root)
    if root.kind != "library":
        raise LibertyError(f"top-level group is {root.kind!r}, not 'library'")
    return root


def _floats(s) -> list[float]:
    if isinstance(s, list):
        s = ",".join(s)
    return [float(x) for x in re.split(r"[,\s]+", s.strip()) if x]


@dataclass
class Table:
    """A 1-D or 2-D lookup table with named axes, linearly interpolated (and extrapolated)."""
    variables: list[str]
    indices: list[list[float]]
    values: list[list[float]]   # rows along index_1, columns along index_2 (one column for 1-D)

    def lookup(self, **point) -> float:
        coords = []
        for var in self.variables:
            if var not in point:
                raise KeyError(f"table needs {var!r}")
            coords.append(point[var])
        if len(self.indices) == 1:
            xs = self.indices[0]
            col = [row[0] for row in self.values] if len(self.values) == len(xs) else self.values[0]
            return _interp1(xs, col, coords[0])
        xs, ys = self.indices
        col = [_interp1(ys, row, coords[1]) for row in self.values]
        return _interp1(xs, col, coords[0])


def _interp1(xs, vs, x):
    if len(xs) == 1:
        return vs[0]
    j = bisect.bisect_left(xs, x)
    j = min(max(j, 1), len(xs) - 1)
    x0, x1 = xs[j - 1], xs[j]
    t = (x - x0) / (x1 - x0)
    return vs[j - 1] + t * (vs[j] - vs[j - 1])


@dataclass
class PowerArc:
    related_pin: str | None
    rise: Table | None
    fall: Table | None


@dataclass
class Pin:
    name: str
    direction: str
    capacitance: float = 0.0          # pF
    function: str | None = None
    clock: bool = False
    power: list[PowerArc] = field(default_factory=list)
    transition: list[tuple[Table, Table]] = field(default_factory=list)   # (rise, fall) per arc


@dataclass
class Cell:
    name: str
    area: float
    leakage_nw: float
    pins: dict[str, Pin]
    sequential: bool
    next_state: str | None = None
    clocked_on: str | None = None
    state_vars: list = field(default_factory=list)    # ff (IQ, IQN) names

    @property
    def inputs(self):
        return [p for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self):
        return [p for p in self.pins.values() if p.direction == "output"]


@dataclass
class Library:
    name: str
    voltage: float           # V
    temperature: float       # degC
    process: str
    cells: dict[str, Cell]
    energy_unit_pj: float    # internal-power table unit in pJ
    path: str | None = None

    @property
    def nand2_area(self) -> float:
        """Area of the smallest two-input NAND (the NAND2-equivalent unit)."""
        cands = [c for c in self.cells.values()
                 if len(c.inputs) == 2 and len(c.outputs) == 1 and not c.sequential
                 and _is_nand2(c.outputs[0].function)]
        if not cands:
            raise LibertyError("library has no two-input NAND cell to define NAND2 equivalents")
        return min(c.area for c in cands)

    def operating_point(self) -> str:
        return f"{self.process} process, {self.voltage:g} V, {self.temperature:g} C"


def _is_nand2(func):
    if not func:
        return False
    f = func.replace(" ", "")
    return f in ("!(AB)", "!(A&B)", "(!(AB))", "(!(A&B))", "!(A*B)")


_UNIT = re.compile(r"^\s*([0-9.eE+-]*)\s*([a-zA-Z]+)\s*$")
_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3}


def _unit(text, base):
    """'1ns' -> 1e-9 (base 's'); returns the unit in SI."""
    m = _UNIT.match(text.strip('"'))
    if not m or not m.group(2).endswith(base):
        raise LibertyError(f"unit {text!r} is not a {base!r} unit")
    mult = float(m.group(1) or 1)
    prefix = m.group(2)[: -len(base)]
    if prefix not in _SCALE:
        raise LibertyError(f"unit prefix {prefix!r} in {text!r} unknown")
    return mult * _SCALE[prefix]


def _cap_unit(lib: Group):
    v = lib.attr("capacitive_load_unit")
    if v is None:
        raise LibertyError("library has no capacitive_load_unit")
    mult, unit = float(v[0]), v[1].lower()
    return mult * {"ff": 1e-15, "pf": 1e-12, "nf": 1e-9}[unit]


def load(path) -> Library:
    """Read a Liberty file into a :class:`Library` (units: pF, ns, pJ, nW, V)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"liberty file {path} does not exist (`python -m synth` fetches it into build/synth/tech/ with apt-get download; or set FINEQ_LIBERTY)")
    root = parse(path.read_text(errors="replace"))
    return from_group(root, str(path))


def from_group(root: Group, path=None) -> Library:
    time_s = _unit(root.attr("time_unit", "1ns"), "s")
    volt = _unit(root.attr("voltage_unit", "1V"), "V")
    cap_f = _cap_unit(root) if root.attr("capacitive_load_unit") else 1e-12
    leak_w = _unit(root.attr("leakage_power_unit", "1nW"), "W")
    cap_scale = cap_f / 1e-12            # -> pF
    time_scale = time_s / 1e-9           # -> ns
    energy_pj = cap_f * volt * volt / 1e-12
    leak_scale = leak_w / 1e-9           # -> nW

    opc = {g.args[0] if g.args else "": g for g in root.sub("operating_conditions")}
    default_oc = root.attr("default_operating_conditions")
    oc = opc.get(default_oc) or (next(iter(opc.values())) if opc else None)
    voltage = float(oc.attr("voltage")) if oc and oc.attr("voltage") else float(root.attr("nom_voltage", 0))
    temperature = float(oc.attr("temperature")) if oc and oc.attr("temperature") else float(root.attr("nom_temperature", 25))
    process = (oc.args[0] if oc and oc.args else "nominal")

    templates = {}
    for kind in ("lu_table_template", "power_lut_template"):
        for g in root.sub(kind):
            variables = [g.attr(f"variable_{k}") for k in (1, 2, 3) if g.attr(f"variable_{k}")]
            templates[g.args[0]] = variables

    def table(g: Group | None, scale, axis_scale):
        if g is None:
            return None
        variables = templates.get(g.args[0] if g.args else "", None)
        if variables is None:
            raise LibertyError(f"table template {g.args!r} is not defined")
        idx = []
        for k, var in enumerate(variables, 1):
            raw = g.attr(f"index_{k}")
            if raw is None:
                raise LibertyError(f"table {g.kind}({g.args[0]}) lacks index_{k}")
            idx.append([x * axis_scale(var) for x in _floats(raw)])
        vals_raw = g.attr("values")
        vals = [_floats(v) for v in (vals_raw if isinstance(vals_raw, list) else [vals_raw])]
        vals = [[x * scale for x in row] for row in vals]
        if len(variables) == 1 and len(vals) == 1 and len(vals[0]) == len(idx[0]):
            vals = [[x] for x in vals[0]]
        return Table(variables, idx, vals)

    def axis_scale(var):
        return cap_scale if "capacitance" in var else time_scale

    cells = {}
    for cg in root.sub("cell"):
        name = cg.args[0]
        pins = {}
        for pg in cg.sub("pin"):
            pin = Pin(pg.args[0], pg.attr("direction", "input"),
                      float(pg.attr("capacitance", 0)) * cap_scale,
                      pg.attr("function"), pg.attr("clock") == "true")
            for ip in pg.sub("internal_power"):
                rise = table(next(iter(ip.sub("rise_power")), None), energy_pj, axis_scale)
                fall = table(next(iter(ip.sub("fall_power")), None), energy_pj, axis_scale)
                pin.power.append(PowerArc(ip.attr("related_pin"), rise, fall))
            for tg in pg.sub("timing"):
                rt = table(next(iter(tg.sub("rise_transition")), None), time_scale, axis_scale)
                ft = table(next(iter(tg.sub("fall_transition")), None), time_scale, axis_scale)
                if rt and ft:
                    pin.transition.append((rt, ft))
            if len(pg.args) > 1:
                raise LibertyError(f"cell {name}: multi-name pin groups are not supported")
            pins[pin.name] = pin
        ffs = cg.sub("ff") + cg.sub("latch")
        seq = bool(ffs)
        cells[name] = Cell(name, float(cg.attr("area", 0)),
                           float(cg.attr("cell_leakage_power", 0)) * leak_scale, pins, seq,
                           ffs[0].attr("next_state") if ffs else None,
                           (ffs[0].attr("clocked_on") or ffs[0].attr("enable")) if ffs else None,
                           list(ffs[0].args) if ffs else [])
    return Library(root.args[0] if root.args else "?", voltage, temperature, process, cells,
                   energy_pj, path)
