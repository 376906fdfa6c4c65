"""fineq-v1 cluster bytes, word packing and the bits-per-weight audit (docs/format.md)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from quant.core import format as fmt
from quant.core.errors import FineQError


def twos(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def table_row(byte: int) -> tuple[int, int, int]:
    """The table of docs/format.md, written out per index value, one byte at a time."""
    index, payload = byte >> 6, byte & 0x3F
    if index == 0:
        return tuple(twos((payload >> s) & 3, 2) for s in (0, 2, 4))
    a, b = twos(payload & 7, 3), twos(payload >> 3, 3)
    return {1: (0, a, b), 2: (a, 0, b), 3: (a, b, 0)}[index]


def test_all_256_bytes_decode_as_the_table_says():
    decoded = fmt.decode_bytes(np.arange(256, dtype=np.uint8))
    for byte in range(256):
        assert tuple(int(v) for v in decoded[byte]) == table_row(byte), f"byte {byte:#04x}"


def test_every_byte_reencodes_to_itself():
    bytes_ = np.arange(256, dtype=np.uint8)
    q = fmt.decode_bytes(bytes_)
    assert np.array_equal(fmt.encode_bytes(q, fmt.cluster_format(bytes_)), bytes_)


def test_decoded_ranges():
    q = fmt.decode_bytes(np.arange(256, dtype=np.uint8))
    assert q[:64].min() == -2 and q[:64].max() == 1
    assert q[64:].min() == -4 and q[64:].max() == 3


@st.composite
def codes_and_formats(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=7))
    f = draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 3)))
    q3 = draw(hnp.arrays(np.int8, (*shape, 3), elements=st.integers(-4, 3)))
    q2 = draw(hnp.arrays(np.int8, (*shape, 3), elements=st.integers(-2, 1)))
    q = np.where((f == 0)[..., None], q2, q3)
    q = np.where((f[..., None] - 1) == np.arange(3), 0, q).astype(np.int8)
    return q, f


@given(codes_and_formats())
def test_encode_decode_round_trip(qf):
    q, f = qf
    b = fmt.encode_bytes(q, f)
    assert b.dtype == np.uint8 and b.shape == f.shape
    assert np.array_equal(fmt.decode_bytes(b), q)
    assert np.array_equal(fmt.cluster_format(b), f)
    # the unchecked fast path gives the same bytes
    assert np.array_equal(fmt.encode_planes(q[..., 0], q[..., 1], q[..., 2], f, check=False), b)


@pytest.mark.parametrize(
    "q, f",
    [((2, 0, 0), 0), ((0, -3, 0), 0), ((0, 4, 0), 1), ((1, 0, 0), 1), ((0, 1, 0), 2), ((0, 0, -5), 2)],
)
def test_encode_refuses_codes_that_do_not_fit(q, f):
    with pytest.raises(FineQError, match="does not fit cluster format"):
        fmt.encode_bytes(np.array([q], dtype=np.int8), np.array([f], dtype=np.uint8))


@given(
    n=st.integers(1, 5),
    k=st.integers(1, 40),
    data=st.data(),
)
@settings(max_examples=60)
def test_rows_round_trip_through_clusters_and_words(n, k, data):
    c = fmt.num_clusters(k)
    q = data.draw(hnp.arrays(np.int8, (n, c * 3), elements=st.integers(-2, 1)))
    q[:, k:] = 0
    clusters = fmt.encode_bytes(q.reshape(n, c, 3), np.zeros((n, c), np.uint8))
    assert np.array_equal(fmt.unpack_clusters(clusters, k), q[:, :k])
    words = fmt.pack_words(clusters)
    assert words.shape == (n, -(-c // 4)) and words.dtype == np.uint32
    assert np.array_equal(fmt.unpack_words(words, c), clusters)


def test_word_layout_is_little_endian_with_zero_padding():
    clusters = np.array([[0x11, 0x22, 0x33, 0x44, 0x55]], dtype=np.uint8)
    words = fmt.pack_words(clusters)
    assert [hex(w) for w in words[0]] == ["0x44332211", "0x55"]


def test_nonzero_padding_is_corrupt():
    clusters = fmt.encode_bytes(np.array([[[1, 1, 1]]], np.int8), np.array([[0]], np.uint8))
    with pytest.raises(FineQError, match="padding"):
        fmt.unpack_clusters(clusters, 2)


def test_unpack_shape_mismatch():
    with pytest.raises(FineQError, match="cannot hold rows"):
        fmt.unpack_clusters(np.zeros((2, 3), np.uint8), 10)


def test_decode_refuses_wrong_dtype():
    with pytest.raises(FineQError, match="uint8"):
        fmt.decode_bytes(np.zeros(3, np.int16))


def test_bits_per_weight_counts_stored_bytes():
    n, k = 7, 4096
    stored = {"clusters": np.zeros((n, fmt.num_clusters(k)), np.uint8), "scales": np.zeros(n, np.float16)}
    # 1366 cluster bytes + 2 scale bytes per row of 4096 weights
    assert fmt.bits_per_weight(stored, n, k) == pytest.approx(8 * 1368 / 4096)
