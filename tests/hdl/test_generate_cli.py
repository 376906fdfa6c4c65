"""python -m hdl.generate and python -m hdl.soc.regmap: bad input ends in `error: ...`, exit 2."""

import pytest

from hdl import generate
from hdl.soc import regmap


def test_generate_refuses_an_unknown_config(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        generate.main(["--config", "nope", "--out", str(tmp_path / "v")])
    assert e.value.code == 2
    assert "error: argument --config: invalid choice: 'nope'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_generate_refuses_an_out_that_is_a_file(tmp_path, capsys, monkeypatch):
    f = tmp_path / "v"
    f.write_text("x")
    monkeypatch.setattr(generate, "generate", lambda *a, **k: pytest.fail("generated before the check"))
    assert generate.main(["--config", "tiny", "--out", str(f)]) == 2
    assert capsys.readouterr().err == f"error: --out {f} is a file; name a folder\n"


def test_generate_help_explains_the_outputs(capsys):
    with pytest.raises(SystemExit):
        generate.main(["--help"])
    assert "fineq_accel.h" in capsys.readouterr().out


def test_regmap_header_to_an_unwritable_path(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert regmap.main(["--c-header", str(blocker / "fineq_accel.h")]) == 2
    assert "error: --c-header" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_regmap_writes_the_header(tmp_path, capsys):
    out = tmp_path / "inc" / "fineq_accel.h"
    assert regmap.main(["--c-header", str(out)]) == 0
    assert out.read_text() == regmap.c_header() and sorted(p.name for p in out.parent.iterdir()) == [out.name]
