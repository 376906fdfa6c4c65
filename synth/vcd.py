"""A streaming VCD reader that counts, for every bit of every dumped variable, its rising and falling
transitions, without keeping the waveform.

Toggles are counted between *settled* values: all changes recorded at one timestamp are merged and
compared with the value at the previous timestamp. With zero-delay gate models this counts functional
transitions (a zero-width glitch inside one time step is not a transition); a simulation with real
cell delays puts glitches at distinct timestamps and they are counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Var:
    code: str
    name: str          # hierarchical name, scopes joined with '.'
    width: int
    lsb: int           # index of bit 0 of the value string's last character
    msb: int


@dataclass
class Toggles:
    vars: dict[str, list[Var]] = field(default_factory=dict)   # code -> vars sharing it
    rise: dict[str, list[int]] = field(default_factory=dict)   # code -> per-bit counts, bit 0 = LSB
    fall: dict[str, list[int]] = field(default_factory=dict)
    end_time: int = 0
    timescale: str = "1s"

    def bit_counts(self):
        """Yield (var name, bit index, rises, falls) for every dumped bit."""
        for code, vs in self.vars.items():
            r, f = self.rise[code], self.fall[code]
            for v in vs:
                for k in range(v.width):
                    idx = v.lsb + k if v.msb >= v.lsb else v.lsb - k
                    yield v.name, idx, r[k], f[k]


def _parse_ref(ref: str, width: int):
    """'foo [7:0]' or 'foo[3]' or 'foo' -> (name, msb, lsb)."""
    ref = ref.strip()
    if ref.endswith("]") and "[" in ref:
        base, rng = ref[: ref.rindex("[")].strip(), ref[ref.rindex("[") + 1: -1]
        if ":" in rng:
            a, b = rng.split(":")
            return base, int(a), int(b)
        return base, int(rng), int(rng)
    return ref, width - 1, 0


def count(path_or_file, scope_filter: str | None = None) -> Toggles:
    """Read a VCD (path or open text file) and count toggles per bit."""
    f = open(path_or_file) if isinstance(path_or_file, (str, bytes)) or hasattr(path_or_file, "__fspath__") \
        else path_or_file
    t = Toggles()
    it = iter(f)
    first = _read_header(it, t, scope_filter)
    _count_changes(_chain(first, it) if first is not None else it, t)
    if f is not path_or_file:
        f.close()
    return t


def _read_header(it, t: Toggles, scope_filter: str | None):
    """The declarations up to ``$enddefinitions`` into ``t.vars`` and ``t.timescale``; returns the
    line after them (the first of the value changes), or the last line read."""
    scopes: list[str] = []
    header = True
    line = None
    for line in it:
        if not header:
            break
        tokens = line.split()
        while tokens:
            tok = tokens[0]
            if tok == "$scope":
                while len(tokens) < 4:
                    tokens += next(it).split()
                scopes.append(tokens[2])
                tokens = tokens[tokens.index("$end") + 1:] if "$end" in tokens else []
            elif tok == "$upscope":
                scopes.pop()
                tokens = tokens[2:]
            elif tok == "$var":
                while "$end" not in tokens:
                    tokens += next(it).split()
                end = tokens.index("$end")
                _, vtype, width, code, *ref = tokens[:end]
                width = int(width)
                name, msb, lsb = _parse_ref(" ".join(ref), width)
                name = name.lstrip("\\")        # escaped identifiers (\pe_0_0.acc)
                full = ".".join(scopes + [name])
                if scope_filter is None or full.startswith(scope_filter):
                    t.vars.setdefault(code, []).append(Var(code, full, width, lsb, msb))
                tokens = tokens[end + 1:]
            elif tok == "$timescale":
                body = []
                tokens = tokens[1:]
                while "$end" not in tokens:
                    body += tokens
                    tokens = next(it).split()
                body += tokens[: tokens.index("$end")]
                t.timescale = "".join(body)
                tokens = tokens[tokens.index("$end") + 1:]
            elif tok == "$enddefinitions":
                header = False
                break
            elif tok.startswith("$"):
                while "$end" not in tokens:
                    tokens = next(it).split()
                tokens = tokens[tokens.index("$end") + 1:]
            else:
                tokens = tokens[1:]
    return line


def _count_changes(records, t: Toggles) -> None:
    """Rises and falls per bit of every declared code, one settled value per time step."""
    widths = {c: vs[0].width for c, vs in t.vars.items()}
    for c, w in widths.items():
        t.rise[c] = [0] * w
        t.fall[c] = [0] * w
    cur: dict[str, str] = {}        # settled value per code (MSB first strings)
    pend: dict[str, str] = {}
    rise, fall = t.rise, t.fall

    def commit():
        for c, new in pend.items():
            old = cur.get(c)
            cur[c] = new
            if old is None or old == new:
                continue
            w = widths[c]
            r, fl = rise[c], fall[c]
            if w == 1:
                if old == "0" and new == "1":
                    r[0] += 1
                elif old == "1" and new == "0":
                    fl[0] += 1
                continue
            for k in range(w):
                o, n = old[w - 1 - k], new[w - 1 - k]
                if o != n:
                    if o == "0" and n == "1":
                        r[k] += 1
                    elif o == "1" and n == "0":
                        fl[k] += 1
        pend.clear()

    def pad(v, w):
        if len(v) >= w:
            return v[-w:]
        fillc = v[0] if v[0] in "xz" else "0"
        return fillc * (w - len(v)) + v

    for rec in records:
        if not rec:
            continue
        ch = rec[0]
        if ch in "01xzXZ":
            c = rec[1:].strip()
            if c in widths:
                pend[c] = ch.lower()
        elif ch in "bB":
            v, c = rec[1:].split()
            if c in widths:
                pend[c] = pad(v.lower(), widths[c])
        elif ch == "#":
            commit()
            t.end_time = int(rec[1:])
        elif ch in "rR":
            continue
    commit()


def _chain(first, rest):
    yield first
    yield from rest
