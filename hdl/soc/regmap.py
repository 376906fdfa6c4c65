"""The accelerator's AXI4-Lite register map, defined once as data.

Everything else is generated from :data:`REGISTERS`: the RTL register file (hdl/soc/regfile.py),
the Python driver (hdl/sw/driver.py) and the C header for firmware::

    python -m hdl.soc.regmap --c-header build/include/fineq_accel.h
    python -m hdl.soc.regmap --markdown            # the table in docs/accelerator.md

This module imports nothing from Amaranth, so software can use it without the HDL tool chain.

Access types:

- ``ro``: read-only; a write is ignored and answered with SLVERR.
- ``rw``: read/write; a write while the accelerator is busy is ignored and answered with SLVERR
  (the running job never sees its parameters change under it).
- ``wo``: write-only command bits (self-clearing pulses); reads return 0.

Any address not in the map answers SLVERR (reads return 0).
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Field", "Register", "REGISTERS", "ErrorCode", "ID_VALUE", "by_name", "c_header",
           "markdown_table", "ADDR_BITS"]

ID_VALUE = 0x4651_0002  # "FQ", register-map version 2
ADDR_BITS = 8  # the register file decodes byte addresses 0x00..0xFF


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str  # ro | rw | wo
    doc: str
    fields: tuple[Field, ...] = field(default=())
    width: int = 32  # implemented bits (rw registers), from bit 0

    def __post_init__(self):
        if self.access not in ("ro", "rw", "wo"):
            raise ValueError(f"register {self.name}: access must be ro, rw or wo")
        if self.offset % 4:
            raise ValueError(f"register {self.name}: offset 0x{self.offset:x} is not word-aligned")


class ErrorCode(enum.IntEnum):
    """STATUS.ERR_CODE: why the last job stopped (the first error wins until CTRL.CLEAR)."""

    NONE = 0
    ZERO_SIZE = 1  # M, K or N is zero
    M_TOO_LARGE = 2  # M > MAX_M (activation / accumulator buffers)
    K_TOO_LARGE = 3  # K > MAX_K (activation / weight buffers)
    N_TOO_LARGE = 4  # N > MAX_N
    MISALIGNED = 5  # an address is not a multiple of the bus width (CAPS.BUS_BYTES)
    # 6 was START_WHILE_BUSY in map version 1; it is now the warning STATUS.START_IGNORED
    AXI_READ = 7  # RRESP was SLVERR or DECERR (job aborted)
    AXI_WRITE = 8  # BRESP was SLVERR or DECERR (job aborted)
    BAD_PARAMS = 9  # a requantization word is out of range (mult >= 2**15, shift not 1..47)
    BAD_GROUP = 10  # GROUP.ENABLE on a build without group factors (CAPS.KIND 1, INT8 weights)


REGISTERS: tuple[Register, ...] = (
    Register("ID", 0x00, "ro", f"Identification, reads 0x{ID_VALUE:08X} ('FQ', map version 2)."),
    Register("GEOMETRY", 0x04, "ro", "Array size of this build.", (
        Field("ROWS", 0, 16, "array rows: K extent of a tile"),
        Field("COLS", 16, 16, "array columns: N extent of a tile"),
    )),
    Register("MAX_M", 0x08, "ro", "Largest M (tokens) of a job (the counters' limit; jobs with "
             "more than CAPS.CHUNK_M tokens run in chunks)."),
    Register("MAX_K", 0x0C, "ro", "Largest K (input features) the activation buffer holds."),
    Register("MAX_N", 0x10, "ro", "Largest N (output channels) the counters take."),
    Register("CTRL", 0x14, "wo", "Commands (write 1; self-clearing).", (
        Field("START", 0, 1, "start a job with the current parameters"),
        Field("CLEAR", 1, 1, "clear STATUS.DONE, ERROR, ERR_CODE and START_IGNORED (ignored while "
              "BUSY)"),
    )),
    Register("STATUS", 0x18, "ro", "State of the accelerator.", (
        Field("BUSY", 0, 1, "a job is running"),
        Field("DONE", 1, 1, "the last job finished (with or without error); drives the interrupt"),
        Field("ERROR", 2, 1, "the last job failed (see ERR_CODE); its results are incomplete"),
        Field("START_IGNORED", 3, 1, "warning: a START arrived while BUSY and was ignored; the "
              "running job was not affected and its results are exact"),
        Field("ERR_CODE", 8, 8, "an ErrorCode value"),
    )),
    Register("IRQ_ENABLE", 0x1C, "rw", "Interrupt enable: irq = STATUS.DONE & IRQ_ENABLE.DONE.", (
        Field("DONE", 0, 1, "raise irq when a job finishes"),
    ), width=1),
    Register("MODE", 0x20, "rw", "Output mode.", (
        Field("BYPASS", 0, 1, "1: write raw INT32 sums; 0: requantize to INT8"),
    ), width=1),
    Register("M", 0x24, "rw", "Tokens (rows of X and Y), 1..MAX_M."),
    Register("K", 0x28, "rw", "Input features, 1..MAX_K."),
    Register("N", 0x2C, "rw", "Output channels, 1..MAX_N."),
    Register("W_ADDR", 0x30, "rw", "Byte address of the weight image (a multiple of BUS_BYTES)."),
    Register("X_ADDR", 0x34, "rw", "Byte address of the INT8 activations (a multiple of BUS_BYTES)."),
    Register("P_ADDR", 0x38, "rw", "Byte address of the requantization words (a multiple of "
             "BUS_BYTES; unused in bypass mode)."),
    Register("Y_ADDR", 0x3C, "rw", "Byte address of the results (a multiple of BUS_BYTES)."),
    Register("CYCLES", 0x40, "ro", "Cycles of the last job, from START to DONE."),
    Register("BUSY_CYCLES", 0x44, "ro", "Cycles of the last job in which the array computed."),
    Register("STALL_CYCLES", 0x48, "ro", "Cycles of the last job in which a DMA transfer waited "
             "for memory (no R or W beat moved)."),
    Register("CAPS", 0x4C, "ro", "What this build is.", (
        Field("KIND", 0, 2, "array kind: 0 FineQ temporal PEs, 1 INT8 x INT8 MAC, 2 INT8 x 3-bit MAC, "
              "3 radix-2 temporal PEs"),
        Field("ADAPTIVE", 2, 1, "1: a tile's beat is max(1, max|q|) cycles; 0: always CODE_LENGTH"),
        Field("GROUPS", 3, 1, "1: the build applies fineq-v2 group factors (GROUP register)"),
        Field("CODE_LENGTH", 4, 4, "cycles of the longest temporal code (FineQ)"),
        Field("BUS_BYTES", 8, 8, "AXI data width in bytes (4, 8 or 16)"),
        Field("CHUNK_M", 16, 16, "tokens the activation buffer holds (a job's chunk)"),
    )),
    Register("GROUP", 0x50, "rw", "fineq-v2 group factors (0: fineq-v1, one scale per row).", (
        Field("LOG2_TILES", 0, 4, "log2 of the K tiles per group: a group is ROWS << LOG2_TILES "
              "inputs"),
        Field("ENABLE", 4, 1, "1: the weight image holds a factor line per group, and every "
              "tile sum is multiplied by its column's factor before it is accumulated"),
    ), width=5),
)


def by_name() -> dict[str, Register]:
    return {r.name: r for r in REGISTERS}


def _check_map():
    offsets = [r.offset for r in REGISTERS]
    if len(set(offsets)) != len(offsets):
        raise ValueError("two registers share an offset")
    if max(offsets) >= 1 << ADDR_BITS:
        raise ValueError("a register lies beyond the decoded address range")
    for r in REGISTERS:
        for f in r.fields:
            if f.lsb + f.width > 32:
                raise ValueError(f"{r.name}.{f.name} does not fit 32 bits")


_check_map()


def c_header() -> str:
    """The register map as a C header (offsets, field shifts/masks, error codes)."""
    lines = [
        "/* FineQ accelerator register map. Generated by `python -m hdl.soc.regmap --c-header`",
        " * from hdl/soc/regmap.py (the same definition the RTL register file is built from).",
        " * Do not edit. All registers are 32 bits wide on an AXI4-Lite slave. */",
        "#ifndef FINEQ_ACCEL_H",
        "#define FINEQ_ACCEL_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define FINEQ_ID_VALUE 0x{ID_VALUE:08X}u",
        "",
    ]
    for r in REGISTERS:
        lines.append(f"/* {r.name} ({r.access}): {r.doc} */")
        lines.append(f"#define FINEQ_{r.name} 0x{r.offset:02X}u")
        for f in r.fields:
            lines.append(f"#define FINEQ_{r.name}_{f.name}_SHIFT {f.lsb}u")
            lines.append(f"#define FINEQ_{r.name}_{f.name}_MASK 0x{f.mask:08X}u")
        lines.append("")
    lines += requant_macros()
    lines.append("/* STATUS.ERR_CODE values */")
    for e in ErrorCode:
        lines.append(f"#define FINEQ_ERR_{e.name} {int(e)}u")
    lines += [
        "",
        "static inline uint32_t fineq_read(uintptr_t base, uint32_t reg)",
        "{",
        "    return *(volatile uint32_t *)(base + reg);",
        "}",
        "",
        "static inline void fineq_write(uintptr_t base, uint32_t reg, uint32_t value)",
        "{",
        "    *(volatile uint32_t *)(base + reg) = value;",
        "}",
        "",
        "#endif /* FINEQ_ACCEL_H */",
        "",
    ]
    return "\n".join(lines)


# The requantization word at P_ADDR (word 2c+1 of a block): mult | shift << 16, bits 15 and 31:24
# zero (hdl/soc/param_loader.py rejects anything else with BAD_PARAMS). Limits: quant.golden.
PARAM_MULT_LSB, PARAM_SHIFT_LSB, PARAM_SHIFT_FIELD_BITS = 0, 16, 8


def requant_macros() -> list[str]:
    """C macros for the requantization word, from the golden model's limits."""
    from quant.core.golden import MULT_BITS, SHIFT_MAX, SHIFT_MIN

    mult_mask = ((1 << MULT_BITS) - 1) << PARAM_MULT_LSB
    shift_mask = ((1 << PARAM_SHIFT_FIELD_BITS) - 1) << PARAM_SHIFT_LSB
    return [
        "/* Requantization word (P_ADDR, word 2c+1 of a block): mult | shift << 16; bits 15 and",
        " * 31:24 must be 0, mult < 2^MULT_BITS, SHIFT_MIN <= shift <= SHIFT_MAX, else BAD_PARAMS\n * (the rounding rule: docs/numbers.md). */",
        f"#define FINEQ_PARAM_MULT_BITS {MULT_BITS}u",
        f"#define FINEQ_PARAM_MULT_SHIFT {PARAM_MULT_LSB}u",
        f"#define FINEQ_PARAM_MULT_MASK 0x{mult_mask:08X}u",
        f"#define FINEQ_PARAM_MULT_MAX {(1 << MULT_BITS) - 1}u",
        f"#define FINEQ_PARAM_SHIFT_SHIFT {PARAM_SHIFT_LSB}u",
        f"#define FINEQ_PARAM_SHIFT_MASK 0x{shift_mask:08X}u",
        f"#define FINEQ_PARAM_SHIFT_MIN {SHIFT_MIN}u",
        f"#define FINEQ_PARAM_SHIFT_MAX {SHIFT_MAX}u",
        f"#define FINEQ_PARAM_RESERVED_MASK 0x{0xFFFFFFFF & ~(mult_mask | shift_mask):08X}u",
        "#define FINEQ_PARAM_WORD(mult, shift) \\",
        "    ((((uint32_t)(mult) << FINEQ_PARAM_MULT_SHIFT) & FINEQ_PARAM_MULT_MASK) | \\",
        "     (((uint32_t)(shift) << FINEQ_PARAM_SHIFT_SHIFT) & FINEQ_PARAM_SHIFT_MASK))",
        "#define FINEQ_PARAM_WORD_OK(word) \\",
        "    ((((word) & FINEQ_PARAM_RESERVED_MASK) == 0u) && \\",
        "     ((((word) & FINEQ_PARAM_SHIFT_MASK) >> FINEQ_PARAM_SHIFT_SHIFT) >= FINEQ_PARAM_SHIFT_MIN) && \\",
        "     ((((word) & FINEQ_PARAM_SHIFT_MASK) >> FINEQ_PARAM_SHIFT_SHIFT) <= FINEQ_PARAM_SHIFT_MAX))",
        "",
    ]


def markdown_table() -> str:
    rows = ["| offset | name | access | description |", "|---|---|---|---|"]
    for r in REGISTERS:
        doc = r.doc
        if r.fields:
            doc += " " + "; ".join(
                f"`{f.name}` [{f.lsb + f.width - 1}:{f.lsb}] {f.doc}" if f.width > 1
                else f"`{f.name}` [{f.lsb}] {f.doc}" for f in r.fields)
        rows.append(f"| 0x{r.offset:02X} | `{r.name}` | {r.access} | {doc} |")
    rows += ["", "| ERR_CODE | name |", "|---|---|"]
    rows += [f"| {int(e)} | `{e.name}` |" for e in ErrorCode]
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    from quant.core import cli_policy, paths

    parser = cli_policy.parser("python -m hdl.soc.regmap", __doc__)
    parser.add_argument("--c-header", type=Path, help="write the C header to this file")
    parser.add_argument("--markdown", action="store_true", help="print the register table")
    args = parser.parse_args(argv)
    if not args.c_header and not args.markdown:
        parser.print_help()
        return 0

    def work():
        if args.c_header:
            cli_policy.output_path(args.c_header, what="--c-header")
            args.c_header.parent.mkdir(parents=True, exist_ok=True)
            with paths.atomic(args.c_header) as tmp:
                tmp.write_text(c_header())
            print(args.c_header)
        if args.markdown:
            print(markdown_table(), end="")

    return cli_policy.run(work)


if __name__ == "__main__":
    sys.exit(main())
