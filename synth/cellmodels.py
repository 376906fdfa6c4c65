"""Behavioural Verilog models of a liberty's cells, generated from their ``function`` and ``ff``
attributes, for libraries that ship no simulation models (the OSU package does ship
``osu018_stdcells.v``; this is the fallback, and what the tests use with a hand-written library).
"""
from __future__ import annotations

import re

from .liberty import Library


class ModelError(ValueError):
    pass


_TOK = re.compile(r"\s*([A-Za-z_][\w\[\]]*|[()!'^|&*+]|[01])")


def function_to_verilog(func: str) -> str:
    """Liberty boolean function -> Verilog expression. Operators: ``!``/postfix ``'`` not,
    ``&``/``*``/juxtaposition and, ``+``/``|`` or, ``^`` xor; constants 0 and 1."""
    toks = []
    pos = 0
    s = func.strip()
    while pos < len(s):
        m = _TOK.match(s, pos)
        if not m:
            if s[pos:].strip() == "":
                break
            raise ModelError(f"cannot read function {func!r} at {s[pos:]!r}")
        toks.append(m.group(1))
        pos = m.end()
    i = 0

    def peek():
        return toks[i] if i < len(toks) else None

    def parse_or():
        nonlocal i
        left = parse_xor()
        while peek() in ("+", "|"):
            i += 1
            left = f"({left} | {parse_xor()})"
        return left

    def parse_xor():
        nonlocal i
        left = parse_and()
        while peek() == "^":
            i += 1
            left = f"({left} ^ {parse_and()})"
        return left

    def parse_and():
        nonlocal i
        left = parse_unary()
        while True:
            t = peek()
            if t in ("&", "*"):
                i += 1
                left = f"({left} & {parse_unary()})"
            elif t is not None and (t == "(" or t == "!" or re.match(r"[A-Za-z_01]", t)):
                left = f"({left} & {parse_unary()})"
            else:
                return left

    def parse_unary():
        nonlocal i
        t = peek()
        if t == "!":
            i += 1
            e = f"(~{parse_unary()})"
        elif t == "(":
            i += 1
            e = parse_or()
            if peek() != ")":
                raise ModelError(f"unbalanced parentheses in {func!r}")
            i += 1
        elif t is None:
            raise ModelError(f"function {func!r} ends early")
        elif t in ("0", "1"):
            i += 1
            e = f"1'b{t}"
        else:
            i += 1
            e = t
        while peek() == "'":
            i += 1
            e = f"(~{e})"
        return e

    out = parse_or()
    if i != len(toks):
        raise ModelError(f"trailing tokens in function {func!r}: {toks[i:]}")
    return out


def verilog_models(library: Library, seq_delay_ns: float = 0.01) -> str:
    """Verilog for every cell with single-bit pins whose outputs have a function; sequential
    outputs change ``seq_delay_ns`` after the clock (see :data:`synth.energy.SEQ_DELAY_NS`)."""
    out = ["`timescale 1ns/1ps"]
    for cell in library.cells.values():
        pins = list(cell.pins.values())
        if not pins:
            continue
        decl = [f"  {'input' if p.direction == 'input' else 'output'} {p.name};" for p in pins]
        body = []
        if cell.sequential:
            if not cell.next_state or not cell.clocked_on:
                continue
            clk = cell.clocked_on.strip()
            edge = "posedge"
            m = re.fullmatch(r"\(?\s*(!\s*(\w+)|(\w+)\s*')\s*\)?", clk)
            if m:
                edge, clk = "negedge", (m.group(2) or m.group(3))
            body.append("  reg IQ = 1'b0;")
            body.append(f"  always @({edge} {clk}) IQ <= {function_to_verilog(cell.next_state)};")
            for p in cell.outputs:
                f = (p.function or "").strip()
                # the output function names the ff state variable (e.g. "DS0000" or "IQ")
                sv = cell.state_vars or ["IQ"]
                inv = sv[1] if len(sv) > 1 else None
                state_expr = re.sub(r"\b[A-Za-z_]\w*\b",
                                    lambda m, inv=inv: "(!IQ)" if m.group(0) == inv else "IQ", f) if f else "IQ"
                body.append(f"  assign #{seq_delay_ns} {p.name} = {function_to_verilog(state_expr)};")
        else:
            for p in cell.outputs:
                if not p.function:
                    continue
                body.append(f"  assign {p.name} = {function_to_verilog(p.function)};")
        out.append(f"module {cell.name}({', '.join(p.name for p in pins)});")
        out += decl + body
        out.append("endmodule")
    return "\n".join(out) + "\n"
