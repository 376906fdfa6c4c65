"""The C header's requantization-word macros, compiled with the system C compiler, equal the
golden model's limits and the documented word layout (the register macros themselves:
tests/test_top_sw.py)."""

import shutil
import subprocess

import pytest

from hdl.soc import regmap
from quant.core import golden

CC = shutil.which("cc") or shutil.which("gcc")


def _word_ok(word: int) -> bool:
    """docs/accelerator.md: bits 15 and 31:24 zero, shift (bits 23:16) in SHIFT_MIN..SHIFT_MAX."""
    shift = (word >> 16) & 0xFF
    return not (word & 0xFF008000) and golden.SHIFT_MIN <= shift <= golden.SHIFT_MAX


WORDS = [0, 1 << 16, (golden.SHIFT_MAX << 16) | 0x7FFF, ((golden.SHIFT_MAX + 1) << 16) | 5,
         (1 << 16) | 0x8000, (3 << 16) | (1 << 24), 0x00FF0000, (20 << 16) | 16384]
PAIRS = [(16384, 1), (32767, 47), (0x1FFFF, 3), (123, 0x1FF)]  # the last two overflow their fields


@pytest.mark.skipif(CC is None, reason="no system C compiler (cc / gcc)")
def test_c_header_requant_macros(tmp_path):
    (tmp_path / "fineq_accel.h").write_text(regmap.c_header())
    checks = [("FINEQ_ID_VALUE", regmap.ID_VALUE)]
    checks += [("FINEQ_PARAM_MULT_BITS", golden.MULT_BITS), ("FINEQ_PARAM_MULT_MAX", 2**golden.MULT_BITS - 1),
               ("FINEQ_PARAM_SHIFT_MIN", golden.SHIFT_MIN), ("FINEQ_PARAM_SHIFT_MAX", golden.SHIFT_MAX),
               ("FINEQ_PARAM_SHIFT_SHIFT", 16), ("FINEQ_PARAM_MULT_MASK", 0x7FFF),
               ("FINEQ_PARAM_SHIFT_MASK", 0xFF0000), ("FINEQ_PARAM_RESERVED_MASK", 0xFF008000)]
    checks += [(f"FINEQ_PARAM_WORD({m}u, {s}u)", ((m & 0x7FFF) | ((s & 0xFF) << 16))) for m, s in PAIRS]
    checks += [(f"FINEQ_PARAM_WORD_OK({w}u)", int(_word_ok(w))) for w in WORDS]
    body = "\n".join(f'    printf("%llu\\n", (unsigned long long)({expr}));' for expr, _ in checks)
    (tmp_path / "t.c").write_text(f'#include <stdio.h>\n#include "fineq_accel.h"\nint main(void)\n{{\n{body}\n'
                                  "    return 0;\n}\n")
    subprocess.run([CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "t"), str(tmp_path / "t.c")],
                   check=True, cwd=tmp_path)
    out = subprocess.run([str(tmp_path / "t")], check=True, capture_output=True, text=True).stdout.split()
    assert [int(v) for v in out] == [v for _, v in checks]
    # a legal word built by the host software (hdl/sw/image.py: mult | shift << 16) passes the check
    assert _word_ok(16384 | (20 << 16)) and not _word_ok(16384 | (48 << 16))
