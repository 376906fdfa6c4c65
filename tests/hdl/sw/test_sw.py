"""Software side of the accelerator: register map, C header, driver encoding, memory image."""

import shutil
import subprocess

import numpy as np
import pytest

from hdl.datapath.config import ArrayKind, preset
from hdl.soc import regmap
from hdl.soc.accel_config import AcceleratorConfig, accel_preset
from hdl.sw.driver import Status, field_value
from hdl.sw.image import build_image, from_packed_file
from quant.core import golden
from quant.core.errors import FineQError
from quant.core.format import encode_bytes, unpack_clusters
from verif.top_jobs import random_job


def test_register_map_is_consistent():
    offsets = [r.offset for r in regmap.REGISTERS]
    assert len(set(offsets)) == len(offsets)
    assert all(o % 4 == 0 and o < 1 << regmap.ADDR_BITS for o in offsets)
    status = regmap.by_name()["STATUS"]
    masks = [f.mask for f in status.fields]
    assert all(a & b == 0 for i, a in enumerate(masks) for b in masks[i + 1:]), "fields overlap"
    assert max(regmap.ErrorCode) < 256  # ERR_CODE is 8 bits


def test_c_header_compiles_and_matches_the_map(tmp_path):
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler")
    (tmp_path / "fineq_accel.h").write_text(regmap.c_header())
    lines = ['#include <stdio.h>', '#include "fineq_accel.h"', "int main(void) {"]
    for r in regmap.REGISTERS:
        lines.append(f'  printf("{r.name} %u\\n", (unsigned)FINEQ_{r.name});')
        for f in r.fields:
            lines.append(f'  printf("{r.name}.{f.name} %u %u\\n", (unsigned)FINEQ_{r.name}_{f.name}_SHIFT,'
                         f' (unsigned)FINEQ_{r.name}_{f.name}_MASK);')
    for e in regmap.ErrorCode:
        lines.append(f'  printf("ERR {e.name} %u\\n", (unsigned)FINEQ_ERR_{e.name});')
    lines += ["  return 0;", "}"]
    (tmp_path / "main.c").write_text("\n".join(lines))
    exe = tmp_path / "main"
    done = subprocess.run([gcc, "-std=c99", "-Wall", "-Werror", "-o", str(exe), str(tmp_path / "main.c")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    want = []
    for r in regmap.REGISTERS:
        want.append(f"{r.name} {r.offset}")
        want += [f"{r.name}.{f.name} {f.lsb} {f.mask}" for f in r.fields]
    want += [f"ERR {e.name} {int(e)}" for e in regmap.ErrorCode]
    assert out[:-1] == want


def test_markdown_table_lists_every_register():
    table = regmap.markdown_table()
    for r in regmap.REGISTERS:
        assert f"`{r.name}`" in table and f"0x{r.offset:02X}" in table


def test_driver_field_encoding_and_status_decoding():
    assert field_value("CTRL", START=1) == 1
    assert field_value("CTRL", CLEAR=1) == 2
    with pytest.raises(ValueError, match="does not fit 1 bits"):
        field_value("CTRL", START=2)
    with pytest.raises(ValueError, match="has no fields"):
        field_value("CTRL", GO=1)
    st = Status.decode(0b110 | (regmap.ErrorCode.AXI_READ << 8))
    assert (st.busy, st.done, st.error, st.code) == (False, True, True, regmap.ErrorCode.AXI_READ)


@pytest.mark.parametrize("kind", [ArrayKind.FINEQ, ArrayKind.MAC8X8], ids=lambda k: k.value)
@pytest.mark.parametrize("bus", [4, 16])
def test_image_layout_follows_the_documented_memory_map(kind, bus):
    cfg = accel_preset("tiny", kind=kind, bus_bytes=bus)
    rng = np.random.default_rng(0)
    m, k, n = 3, 2 * cfg.rows + 5, cfg.cols + 5  # a partial K tile and a partial block
    job = random_job(rng, m, k, n)
    weights = job.w8 if kind is ArrayKind.MAC8X8 else job.clusters
    img = build_image(weights, k, job.x, job.rq, cfg, base=0x2000, align=64)
    mem = np.frombuffer(img.data, dtype=np.uint8)

    def byte(addr):
        return int(mem[addr - img.base])

    # W: block b, tile t, column c, byte j at ((b * KT + t) * C + c) * per_col + j
    per_col = cfg.rows if kind is ArrayKind.MAC8X8 else cfg.rows // 3
    kt, nb = -(-k // cfg.rows), -(-n // cfg.cols)
    src = weights.view(np.uint8)
    for b in range(nb):
        for t in range(kt):
            for c in range(cfg.cols):
                for j in range(per_col):
                    nn, kk = b * cfg.cols + c, t * per_col + j
                    want = int(src[nn, kk]) if nn < n and kk < src.shape[1] else 0
                    assert byte(img.w_addr + ((b * kt + t) * cfg.cols + c) * per_col + j) == want
    # X: rows of ceil(K / B) * B bytes
    stride = -(-k // bus) * bus
    for mm in range(m):
        row = [byte(img.x_addr + mm * stride + i) for i in range(stride)]
        assert np.array(row[:k], dtype=np.uint8).view(np.int8).tolist() == job.x[mm].tolist()
        assert not any(row[k:]), "activation row padding must be zero"
    # P: block b at b * ceil(8C / B) * B, two words per channel
    pstride = -(-8 * cfg.cols // bus) * bus
    for nn in range(n):
        b, c = divmod(nn, cfg.cols)
        at = img.p_addr + b * pstride + 8 * c
        words = np.frombuffer(bytes(mem[at - img.base:at - img.base + 8]), dtype="<u4")
        assert int(words[0].view("<i4")) == int(job.rq.bias[nn])
        assert int(words[1]) == int(job.rq.mult[nn]) | int(job.rq.shift[nn]) << 16
    assert all(a % bus == 0 for a in (img.w_addr, img.x_addr, img.p_addr, img.y_addr))
    assert img.y_stride == -(-n // bus) * bus and img.y_bytes == m * img.y_stride
    q = job.w8.astype(np.int64) if kind is ArrayKind.MAC8X8 else unpack_clusters(job.clusters, k)
    np.testing.assert_array_equal(img.expected, golden.requantize(golden.int_gemm(job.x, q), job.rq))
    raw = bytearray(b"\xee" * img.y_bytes)
    for mm in range(m):
        raw[img.y_stride * mm: img.y_stride * mm + n] = img.expected[mm].astype(np.int8).tobytes()
    np.testing.assert_array_equal(img.decode_results(bytes(raw)), img.expected)
    assert img.registers()["MODE"] == 0


def test_image_in_bypass_mode_has_no_params_and_int32_rows():
    cfg = accel_preset("tiny", bus_bytes=16)
    job = random_job(np.random.default_rng(1), 2, 6, 3, bypass=True)
    img = build_image(job.clusters, job.k, job.x, None, cfg)
    assert img.bypass and img.registers()["MODE"] == 1 and img.y_stride == 16
    raw = np.zeros((2, 4), dtype="<i4")
    raw[:, :3] = img.expected
    np.testing.assert_array_equal(img.decode_results(raw.tobytes()), img.expected)


@pytest.mark.parametrize("change, message", [
    ("dtype", "cluster bytes must be uint8"),
    ("padding", "padding columns beyond K=4 decode to non-zero"),
    ("x_shape", r"activations must be int8 \[M, 4\]"),
    ("shift", "shifts must be in 1..47"),
    ("mult", "multipliers must be in 0..32767"),
])
def test_image_rejects_bad_inputs_with_a_clear_message(change, message):
    clusters = np.zeros((2, 2), dtype=np.uint8)
    x = np.zeros((1, 4), dtype=np.int8)
    rq = golden.Requant(np.zeros(2, np.int32), np.full(2, 2**14, np.int32), np.full(2, 10, np.int32))
    if change == "dtype":
        clusters = clusters.astype(np.int16)
    elif change == "padding":
        clusters[0, 1] = encode_bytes(np.array([0, 1, 0]), np.array(0))  # column 4 is padding
    elif change == "x_shape":
        x = np.zeros((1, 5), dtype=np.int8)
    elif change == "shift":
        rq = golden.Requant(rq.bias, rq.mult, np.array([0, 10], np.int32))
    elif change == "mult":
        rq = golden.Requant(rq.bias, np.array([2**15, 1], np.int32), rq.shift)
    with pytest.raises(FineQError, match=message):
        build_image(clusters, 4, x, rq, accel_preset("tiny"))


def test_image_from_a_fineq_v1_packed_file(tmp_path):
    from quant.methods.fineq import FineQLayer
    from quant.study.checkpoint import save_packed

    rng = np.random.default_rng(2)
    job = random_job(rng, 2, 9, 4)
    layer = FineQLayer(clusters=job.clusters, scales=np.ones(4, np.float16), k=9)
    path = save_packed(tmp_path / "w.safetensors", {"proj": layer}, threshold=4.0, source_model="test")
    cfg = accel_preset("tiny")
    img = from_packed_file(path, "proj", job.x, job.rq, cfg)
    np.testing.assert_array_equal(img.expected, job.expected())
    with pytest.raises(FineQError, match="has no layer 'nope'"):
        from_packed_file(path, "nope", job.x, job.rq, cfg)


def test_accelerator_config_validation():
    cfg = accel_preset("default")
    assert cfg.max_kt == 171 and cfg.line_bytes == 48 and cfg.load_width == 12
    assert accel_preset("default", kind=ArrayKind.MAC8X8, bus_bytes=16).line_beats == 9
    with pytest.raises(ValueError, match="multiple of 3"):
        AcceleratorConfig(array=preset("tiny").__class__(rows=4, cols=4), chunk_m=1, max_k=8)
    with pytest.raises(TypeError, match="chunk_m must be an integer"):
        AcceleratorConfig(array=preset("tiny"), chunk_m="8", max_k=8)
    with pytest.raises(ValueError, match="max_k must be in 1..65535"):
        AcceleratorConfig(array=preset("tiny"), chunk_m=8, max_k=0)
    with pytest.raises(TypeError, match="array must be an ArrayConfig"):
        AcceleratorConfig(array="tiny", chunk_m=8, max_k=8)
    with pytest.raises(ValueError, match="bus_bytes must be one of"):
        AcceleratorConfig(array=preset("tiny"), chunk_m=8, max_k=8, bus_bytes=32)
    with pytest.raises(ValueError, match="not a whole number of 16-byte bus words"):
        AcceleratorConfig(array=preset("tiny").__class__(rows=6, cols=5), chunk_m=8, max_k=8,
                          bus_bytes=16)
