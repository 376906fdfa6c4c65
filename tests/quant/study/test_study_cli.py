"""The study and shards commands end to end on the small test BERT, and their errors."""

import json
import re

import pytest

from quant.cli import main
from quant.study.checkpoint import load_packed
from quant.study.study import METRICS, goal, pareto

FIELDS = ("bpw", "cos_mean", "cos_min", "recall_at_1", "spearman", "seconds", "peak_mb")


def test_study_writes_json_table_and_plot(tiny_bert_dir, tmp_path, capsys):
    methods = ["rtn3", "fineq", "fineq-noprot", "owq2", "fineq-ef-emin"]
    argv = ["-q", "study", "--model", str(tiny_bert_dir), "--methods", *methods, "--sentences", "12", "--pairs", "24",
            "--calibration", "12", "--out-dir", str(tmp_path), "--threads", "1"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "study.json").read_text())
    assert list(report["methods"]) == ["fp32", *methods] and report["complete"]
    for m, r in report["methods"].items():
        assert all(f in r for f in FIELDS), m
        assert -1 <= r["spearman"] <= 1 and r["bpw"] > 1
    r = report["methods"]
    assert r["fp32"]["spearman"] == pytest.approx(1.0)
    assert r["fineq-noprot"]["outlier_fraction"] == 0 and 0 < r["fineq"]["outlier_fraction"] < 1
    assert r["owq2"]["bpw"] <= r["fineq"]["bpw"] and r["owq2"]["calibrated"] and not r["fineq"]["calibrated"]
    assert report["calibration"]["sentences"] == 12 and report["calibration"]["first_sentence_index"] == 12
    md = (tmp_path / "study.md").read_text()
    assert all(re.search(rf"^\| {re.escape(m)} +\|", md, re.M) for m in methods) and "Goal" in md and "Outlier threshold" in md
    assert (tmp_path / "study_accuracy_bpw.png").stat().st_size > 10_000
    assert "fineq-ef-emin" in capsys.readouterr().out


def test_pareto_and_goal_follow_their_definitions():
    def r(bpw, v):
        return {"bpw": bpw, **dict.fromkeys(METRICS, v)}

    results = {"fp32": r(32, 1.0), "rtn3": r(3.0, 0.8), "rtn4": r(4.0, 0.9), "fineq": r(2.7, 0.7),
               "fineq-x": r(2.7, 0.85), "rtn2": r(2.0, 0.4), "bad": r(3.5, 0.5)}
    assert pareto(results) == ["rtn2", "fineq-x", "rtn4"]
    g = goal(results)
    assert g["method"] == "fineq-x" and g["met"] and g["gap_to_rtn4"]["cos_mean"] == pytest.approx(0.05)
    results["fineq-x"]["recall_at_1"] = 0.8  # a tie is not ahead
    assert goal(results)["behind_on"] == ["recall_at_1"]


def test_merge_combines_split_runs_and_refuses_mismatches(tmp_path):
    from quant.core.errors import FineQError
    from quant.study.study import merge_reports

    def entry(bpw, v):
        return {"bpw": bpw, "n_sentences": 8, **dict.fromkeys(METRICS, v)}

    a = {"model": "m", "calibration": {}, "methods": {"fp32": entry(32, 1), "rtn3": entry(3, 0.8)}}
    b = {"model": "m", "calibration": {"sentences": 4}, "methods": {"fp32": entry(32, 1), "fineq": entry(2.7, 0.7),
                                                                    "rtn3": entry(3, 0.1)}}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    merged = merge_reports([tmp_path / "a.json", tmp_path / "b.json"])
    assert list(merged["methods"]) == ["fp32", "rtn3", "fineq"]
    assert merged["methods"]["rtn3"]["cos_mean"] == 0.8 and merged["calibration"] == {"sentences": 4}
    b["model"] = "other"
    (tmp_path / "b.json").write_text(json.dumps(b))
    with pytest.raises(FineQError, match="cannot be merged"):
        merge_reports([tmp_path / "a.json", tmp_path / "b.json"])


def test_shards_command(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "q.safetensors"
    assert main(["-q", "shards", "--checkpoint", str(tiny_bert_dir), "--out", str(out)]) == 0
    layers, meta = load_packed(out)
    assert len(layers) == 2 * 6 + 1  # 6 linear layers per BERT layer and the pooler
    assert "peak memory" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["study", "--methods", "rtn3", "fp4"], "unknown method"),
    (["shards", "--checkpoint", "/nonexistent", "--out", "x.safetensors"], "does not exist"),
])
def test_bad_input_exits_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
