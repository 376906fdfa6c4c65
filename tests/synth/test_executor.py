"""The executor of the synthesis sweep (synth/executor.py, synth/flow_task.py, synth/run.py): the
same flows give the same results in process, in a local process pool and on a Dask LocalCluster
of 2 workers; results that come back from a worker are filed by the client, under keys made
from the Verilog's content, with the netlists written where the client reads them."""
import json
import shutil
from pathlib import Path

import pytest

from synth import designs as D
from synth import executor, run, tech

ROOT = Path(__file__).resolve().parents[2]  # the repository

ACC = """
module acc_OP(input clk, input rst, input [7:0] a, input [7:0] b, output reg [19:0] y);
  always @(posedge clk) y <= rst ? 20'd0 : y + EXPR;
endmodule
"""

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed (make setup)")


def _square(x):
    if x == 3:
        raise ValueError("three")
    return x * x


@pytest.mark.parametrize("kw", [{"jobs": 1}, {"jobs": 2}])
def test_local_executors_return_every_result_and_error(kw):
    with executor.Executor(**kw) as ex:
        got = {i: (r, e) for i, r, e in ex.map(_square, [(x,) for x in range(5)])}
    assert {i: r for i, (r, e) in got.items() if e is None} == {0: 0, 1: 1, 2: 4, 4: 16}
    assert isinstance(got[3][1], ValueError) and not ex.remote


@pytest.mark.parametrize("kw, msg", [({"jobs": 0}, "at least 1"), ({"dask": "remote:2"}, "local:N"),
                                     ({"dask": "local:0"}, "local:N"),
                                     ({"dask": "local:2", "scheduler": "tcp://x:1"}, "not both")])
def test_bad_settings(kw, msg):
    with pytest.raises(executor.ExecutorError, match=msg):
        executor.Executor(**kw)


def _designs(tmp_path):
    out = []
    for op, expr in (("mul", "a * b"), ("add", "a")):
        f = tmp_path / "src" / f"acc_{op}.v"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(ACC.replace("OP", op).replace("EXPR", expr))
        out.append(D.Design(f"acc_{op}", op, D.verilog(f), "block"))
    return out


def _measure(designs, work, lib, ex):
    return run.measure_all([(d, None, work / "v", work) for d in designs], lib, ex, fpga=False, gating=False)


@needs_yosys
def test_dask_local_cluster_matches_in_process(tmp_path):
    try:
        lib, _ = tech.fetch(ROOT / "build", quiet=True)
    except tech.TechError as e:
        pytest.skip(f"OSU liberty not available: {e}")
    designs = _designs(tmp_path)
    with executor.Executor(jobs=1) as ex:
        local = _measure(designs, tmp_path / "local", lib, ex)
    with executor.Executor(dask="local:2") as ex:
        assert ex.remote and ex.jobs == 2
        remote = _measure(designs, tmp_path / "dask", lib, ex)
    for a, b in zip(local, remote, strict=True):
        for flow in ("generic", "asic"):
            assert "error" not in b[flow], b[flow]
        assert a["generic"]["transistors"] == b["generic"]["transistors"]
        assert a["asic"]["area_um2"] == pytest.approx(b["asic"]["area_um2"])
        assert a["asic"]["cells_by_type"] == b["asic"]["cells_by_type"]
    mul, add = remote
    assert mul["asic"]["area_um2"] > 1.5 * add["asic"]["area_um2"]      # the multiplier is real
    # the worker ran in a folder of its own; the client wrote the netlist and the cache entry
    net = Path(mul["asic"]["netlist_v"])
    assert net.is_relative_to(tmp_path / "dask") and "module acc_mul" in net.read_text()
    cached = json.loads((tmp_path / "dask" / "acc_mul" / "asic" / "result.json").read_text())
    assert cached["result"]["netlist_v"] == str(net)
    # the key is the content: the same Verilog elsewhere is the same key
    local_key = json.loads((tmp_path / "local" / "acc_mul" / "asic" / "result.json").read_text())["key"]
    assert cached["key"] == local_key
    # a second run finds everything in the cache and runs nothing
    plans = [run.plan(d, None, tmp_path / "dask" / "v", tmp_path / "dask", lib, fpga=False, gating=False)
             for d in designs]
    assert all(not p.jobs and {"generic", "asic"} <= set(p.known) for p in plans)


def test_store_replaces_whole_files(tmp_path):
    run.store(tmp_path, "k1", {"a": 1})
    run.store(tmp_path, "k2", {"a": 2})
    assert run.peek(tmp_path, ("k2",)) == {"a": 2} and run.peek(tmp_path, ("k1",)) is None
    assert not list(tmp_path.glob("*.tmp"))
    (tmp_path / "result.json").write_text('{"key": "k2", "result": {"a"')     # truncated by a crash
    assert run.peek(tmp_path, ("k2",)) is None
    assert run.cached(tmp_path, "k2", lambda: {"a": 3}) == {"a": 3}
