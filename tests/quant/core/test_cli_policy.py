"""quant.core.cli_policy and paths.atomic: the shared command-line rules."""

import argparse

import pytest

from quant.core import cli_policy, paths
from quant.core.errors import FineQError


def test_run_maps_expected_errors_to_exit_2(capsys):
    def bad():
        raise FineQError("the file is truncated; write it again")

    assert cli_policy.run(bad) == 2
    assert capsys.readouterr().err == "error: the file is truncated; write it again\n"
    assert cli_policy.run(lambda: open("/nonexistent/dir/file")) == 2
    assert capsys.readouterr().err == "error: /nonexistent/dir/file: No such file or directory\n"
    assert cli_policy.run(lambda: None) == 0 and cli_policy.run(lambda: 1) == 1


def test_run_lets_a_bug_show_its_traceback():
    with pytest.raises(KeyError):
        cli_policy.run(lambda: {}["missing"])


def test_output_path_refuses_what_cannot_be_written(tmp_path):
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    assert cli_policy.output_path(tmp_path / "new" / "deeper" / "out.json") == tmp_path / "new" / "deeper" / "out.json"
    assert cli_policy.output_path(tmp_path, folder=True) == tmp_path
    with pytest.raises(FineQError, match="is a folder; name a file"):
        cli_policy.output_path(tmp_path)
    with pytest.raises(FineQError, match="is a file; name a folder"):
        cli_policy.output_path(afile, folder=True)
    with pytest.raises(FineQError, match="not a writable folder"):
        cli_policy.output_path(afile / "sub" / "out.json")


def test_regex_type():
    assert cli_policy.regex(r"layers\.0\.") == r"layers\.0\."
    with pytest.raises(argparse.ArgumentTypeError, match="not a valid regular expression"):
        cli_policy.regex("(")


def test_parser_help_carries_the_whole_docstring():
    text = cli_policy.parser("prog", "First line.\n\n  indented detail kept as written\n").format_help()
    assert "First line." in text and "\n  indented detail kept as written\n" in text


@pytest.mark.parametrize("folder", [False, True])
def test_atomic_leaves_nothing_on_failure_and_keeps_the_old_output(tmp_path, folder):
    out = tmp_path / "out"

    def write(p, text):
        if folder:
            p.mkdir()
            (p / "f").write_text(text)
        else:
            p.write_text(text)

    def read():
        return (out / "f" if folder else out).read_text()

    with paths.atomic(out) as tmp:
        write(tmp, "one")
    assert read() == "one"
    with pytest.raises(RuntimeError), paths.atomic(out) as tmp:
        write(tmp, "half")
        raise RuntimeError("interrupted")
    assert read() == "one" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with paths.atomic(out) as tmp:
        write(tmp, "two")
    assert read() == "two" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
