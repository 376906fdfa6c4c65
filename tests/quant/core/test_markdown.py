"""quant.core.markdown: report tables and metric legends."""

from quant.core import markdown as md


def test_table_keeps_cells_as_given():
    text = md.table(["method", "bits/weight"], [["fineq", "2.250"], ["rtn3-g128", "3.125"]])
    lines = text.splitlines()
    assert len(lines) == 4 and lines[1].replace("|", "").replace("-", "") == ""
    assert "| fineq " in lines[2] and "2.250" in lines[2] and "3.125" in lines[3]  # no reformatting of 2.250


def test_legend_says_which_way_is_better():
    lines = md.legend({"cycles": ("measured", "lower"), "M": ("tokens", None),
                       "mismatches": ("differences", "must be 0.")})
    assert lines == ["- `cycles`: measured; lower is better.", "- `M`: tokens (context, not a score).",
                     "- `mismatches`: differences; must be 0."]
