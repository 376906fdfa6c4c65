"""scripts/step.sh, the wrapper of every `make demo` and `make bench` step: its output goes to a log, a failing
step says which and how it failed, a passing one records its wall and CPU time."""
import os
import subprocess
from pathlib import Path

STEP = Path(__file__).resolve().parents[1] / "scripts" / "step.sh"


def run_step(tmp_path, *command, env=None):
    return subprocess.run(["bash", str(STEP), "3/7", "a title", *command], cwd=tmp_path,
                          capture_output=True, text=True, env=env)


def test_a_passing_step_logs_its_output_and_time(tmp_path):
    r = run_step(tmp_path, "echo", "hello from the step")
    assert r.returncode == 0
    logs = tmp_path / "build" / "logs" / "demo"
    assert (logs / "03.log").read_text() == "hello from the step\n"
    assert "hello" not in r.stdout                      # the output went to the log only
    lines = r.stdout.splitlines()
    assert lines[0] == "[3/7] a title ..." and lines[1].startswith("[3/7]") and "03.log" in lines[1]
    num, title, secs, cpu = (logs / "times.tsv").read_text().rstrip("\n").split("\t")
    assert (num, title) == ("3/7", "a title") and int(secs) >= 0 and int(cpu) >= 0
    assert sorted(p.name for p in logs.iterdir()) == ["03.log", "times.tsv"]   # no temporary file left


def test_a_step_records_cpu_seconds_apart_from_wall_seconds(tmp_path):
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.6: pass"
    run_step(tmp_path, "python3", "-c", burn)
    run_step(tmp_path, "sleep", "1")
    rows = [line.split("\t") for line in (tmp_path / "build/logs/demo/times.tsv").read_text().splitlines()]
    (_, _, _, burned), (_, _, slept_wall, slept_cpu) = rows
    assert int(burned) >= 2       # 1.6 CPU-seconds, rounded
    assert int(slept_cpu) == 0 and int(slept_wall) >= 1


def test_a_failing_step_shows_its_tail_and_exit_code(tmp_path):
    r = run_step(tmp_path, "bash", "-c", "echo the cause; exit 3")
    assert r.returncode == 3
    assert "FAILED" in r.stdout and "exit 3" in r.stdout and "the cause" in r.stdout
    assert r.stderr.startswith("error: step [3/7] 'a title' failed") and "03.log" in r.stderr
    assert not (tmp_path / "build" / "logs" / "demo" / "times.tsv").exists()


def test_step_logs_picks_the_folder_of_the_logs_and_times(tmp_path):
    r = run_step(tmp_path, "echo", "a bench step", env={**os.environ, "STEP_LOGS": "build/logs/bench"})
    assert r.returncode == 0
    assert (tmp_path / "build/logs/bench/03.log").read_text() == "a bench step\n"
    assert (tmp_path / "build/logs/bench/times.tsv").read_text().startswith("3/7\ta title\t")
    assert not (tmp_path / "build/logs/demo").exists()
