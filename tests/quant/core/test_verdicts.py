"""quant.core.verdicts: the first paragraph after a page's title, and its CLI's errors."""
from quant.core import verdicts


def test_first_paragraph_after_the_title_is_the_verdict():
    page = "# Title\n\nFineQ wins by 2x\non every layer.\n\n| a | b |\n|---|---|\n\nLater prose.\n"
    assert verdicts.verdict_of(page) == ("Title", "FineQ wins by 2x on every layer.")


def test_a_page_that_opens_with_a_table_or_list_has_no_verdict():
    assert verdicts.verdict_of("# T\n\n| a |\n|---|\n\nprose\n") == ("T", None)
    assert verdicts.verdict_of("# T\n\n- 5 of 19 cases\n") == ("T", None)


def test_summary_names_every_page_and_the_ones_without_a_verdict(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.md").write_text("# A\n\nAll good.\n")
    (tmp_path / "sub" / "b.md").write_text("# B\n\n| x |\n")
    assert verdicts.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["- a.md: A. All good.", "- sub/b.md: B. (no verdict paragraph)"]


def test_bad_folder_is_an_error(tmp_path, capsys):
    assert verdicts.main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert verdicts.main([str(tmp_path)]) == 2          # empty: no pages yet
    assert "make demo" in capsys.readouterr().err
