"""quant's report pages: every metric column of a table has a legend line saying which way is better."""

import re

from quant.study import evaluate, llm_report, study

NAMES = {"method", "family", "arithmetic"}


def columns(md: str) -> set[str]:
    header = next(line for line in md.splitlines() if line.startswith("| "))
    return {c.strip() for c in header.strip("|").split("|")}


def scores(**over):
    return {"bpw": 2.7, "cos_mean": 0.98, "cos_min": 0.9, "recall_at_1": 0.95, "top1_agreement": 0.97,
            "spearman": 0.96, "seconds": 1.5, "peak_mb": 12.0, "family": "fineq", **over}


def test_eval_page_has_a_verdict_and_a_legend():
    report = {"model": "m", "linear_layers": 2, "weights": 100, "threshold": 4.0, "machine": "x",
              "methods": {"fp32": scores(bpw=32.0, cos_mean=1.0), "rtn3": scores(bpw=3.1, cos_mean=0.95),
                          "fineq": scores(bpw=2.7, cos_mean=0.97)}}
    md = evaluate.markdown(report, None)
    assert "Closest to float32: **fineq**, mean cosine 0.9700 at 2.700 bits/weight." in md
    assert "no other method here stores fewer bits" in md
    report["methods"]["rtn2"] = scores(bpw=2.0, cos_mean=0.5)
    assert "the best other method at no more bits, rtn2, 0.5000." in evaluate.markdown(report, None)
    legend = set(re.findall(r"^- `([^`]+)`: .*better\.$", md, re.M))
    assert columns(md) - NAMES <= legend


def test_study_and_llm_tables_are_covered_by_their_legends():
    assert columns(study.format_table({"methods": {"fineq": scores(outlier_fraction=0.1)}})) - NAMES <= set(study.LEGEND)
    llm = {"texts": {"pydoc": {}}, "methods": {"fineq": {"family": "fineq", "bpw": 2.7, "ppl": {"pydoc": 30.0},
                                                          "seconds": 5, "peak_mb": 9,
                                                          "hardware": {"int8": {"ppl": {"pydoc": 31.0}}}}}}
    legend = set(llm_report.LEGEND) | {"ppl pydoc"}  # the legend names the per-text column "ppl TEXT"
    assert columns(llm_report.format_table(llm)) - NAMES <= legend
    hw = llm_report.hardware_table(llm)
    assert "+3.3%" in hw and columns(hw) - NAMES <= legend
