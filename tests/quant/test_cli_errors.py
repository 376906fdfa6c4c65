"""python -m quant: bad output paths and options end in `error: ...`, exit 2, before any slow work,
and leave no partial output."""

import pytest

from quant import cli


@pytest.fixture
def no_model(monkeypatch):
    """The commands themselves are the slow work: the checks must refuse the input before them."""
    def refuse(*args, **kwargs):
        raise AssertionError("the command ran before its output path was checked")
    for name in dir(cli):
        if name.startswith("cmd_"):
            monkeypatch.setattr(cli, name, refuse)


def test_quantize_onto_an_existing_folder_leaves_it_alone(tmp_path, capsys, no_model):
    target = tmp_path / "m.safetensors"
    target.mkdir()
    assert cli.main(["-q", "quantize", "--out", str(target)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --out {target} is a folder")
    assert target.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


@pytest.mark.parametrize("argv", [
    ["quantize", "--out", "{bad}/m.safetensors"],
    ["eval", "--out", "{bad}/quant.json"],
    ["vectors", "--out", "{bad}/v.npz"],
    ["shards", "--checkpoint", "{tmp}", "--out", "{bad}/q.safetensors"],
    ["perplexity", "--model", "{tmp}", "--text", "{tmp}/t.txt", "--out", "{bad}/p.json"],
    ["study", "--out-dir", "{bad}/reports"],
])
def test_unwritable_output_is_refused_first(argv, tmp_path, capsys, no_model):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    argv = [a.format(bad=blocker, tmp=tmp_path) for a in argv]
    assert cli.main(["-q", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a writable folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_study_out_dir_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "reports"
    f.write_text("x")
    assert cli.main(["-q", "study", "--out-dir", str(f)]) == 2
    assert "is a file; name a folder" in capsys.readouterr().err


def test_bad_include_regex_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["shards", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "q.st"), "--include", "("])
    assert e.value.code == 2
    assert "error: argument --include: '(' is not a valid regular expression" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
