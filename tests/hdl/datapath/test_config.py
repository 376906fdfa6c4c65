"""hdl.datapath.config: validation messages, presets, derived widths, JSON."""

import dataclasses

import pytest

from hdl.datapath.config import PRESETS, ArrayConfig, ArrayKind, preset, psum_bound, signed_width
from quant.core.golden import ACT_MAX, WEIGHT_MAX_ABS


def test_presets_are_valid_and_large_is_paper_sized():
    assert set(PRESETS) == {"tiny", "default", "large"}
    for name, cfg in PRESETS.items():
        assert cfg.name == name
        assert cfg.rows % 3 == 0, "a column should be whole cluster bytes"
    assert preset("large").rows * preset("large").cols >= 16 * 16
    assert preset("tiny").rows * preset("tiny").cols < preset("default").rows * preset("default").cols


@pytest.mark.parametrize("kwargs, error, message", [
    ({"rows": 0, "cols": 4}, ValueError, "rows must be in 1..1024, not 0"),
    ({"rows": 4, "cols": -1}, ValueError, "cols must be in 1..1024, not -1"),
    ({"rows": 4.0, "cols": 4}, TypeError, "rows must be an integer, not 4.0"),
    ({"rows": True, "cols": 4}, TypeError, "rows must be an integer, not True"),
    ({"rows": 4, "cols": 4, "weight_width": 4}, ValueError, "weight_width must be 3"),
    ({"rows": 4, "cols": 4, "code_length": 3}, ValueError,
     "code_length must be >= 4 so that q = -4 fits its temporal code, not 3"),
    ({"rows": 4, "cols": 4, "acc_width": 16}, ValueError,
     "acc_width 16 cannot hold the exact sum of 4 rows of 8x8-bit products; it needs >= 18 bits"),
    ({"rows": 4, "cols": 4, "act_width": 1}, ValueError, "act_width must be in 2..16, not 1"),
    ({"rows": 4, "cols": 4, "adaptive_phases": 1}, TypeError, "adaptive_phases must be a bool"),
    ({"rows": 4, "cols": 4, "name": ""}, TypeError, "name must be a non-empty string"),
])
def test_bad_configurations_say_what_is_wrong(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        ArrayConfig(**kwargs)


def test_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        ArrayConfig(4, 4)  # the sizes must be named
    cfg = preset("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rows = 8


def test_replace_is_validated_again():
    cfg = dataclasses.replace(preset("default"), rows=16, cols=16)
    assert (cfg.rows, cfg.cols) == (16, 16)
    with pytest.raises(ValueError, match="rows must be"):
        dataclasses.replace(cfg, rows=0)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown configuration 'huge'; choose one of tiny, default, large"):
        preset("huge")
    with pytest.raises(TypeError, match="preset name must be a string"):
        preset(3)


def test_psum_widths_hold_every_sum():
    # The bound must cover the hardware's full input range (-128 * -4 = 512 per product), which
    # is wider than the golden model's symmetric grid (127 * 4).
    assert psum_bound(1, 8, 3) == 512 > ACT_MAX * WEIGHT_MAX_ABS
    assert signed_width(512) == 11 and signed_width(511) == 10 and signed_width(0) == 1
    cfg = preset("default")
    for kind in ArrayKind:
        widths = [cfg.sum_width(kind, r) for r in range(1, cfg.rows + 1)]
        assert widths == sorted(widths), "a longer sum never needs fewer bits"
        for r, w in enumerate(widths, start=1):
            bound = cfg.psum_bound(kind, r)
            assert -(1 << (w - 1)) <= -bound and bound <= (1 << (w - 1)) - 1
            assert -(1 << (w - 2)) > -bound or bound > (1 << (w - 2)) - 1, "one bit too many"
        assert widths[-1] <= cfg.acc_width


def test_json_round_trip():
    cfg = dataclasses.replace(preset("tiny"), adaptive_phases=False)
    text = cfg.to_json()
    assert ArrayConfig.from_json(text) == cfg
    assert '"decoder_lanes": 2' in text
