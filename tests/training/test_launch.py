"""The launcher runs a stage's training function in one process or N torchrun processes."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cosmodl.training.launch import launch, threads_per_process

TESTS = str(Path(__file__).parent)


def test_threads_are_shared_between_processes():
    assert threads_per_process(8, 2) == 4 and threads_per_process(3, 4) == 1 and threads_per_process(None, 2) == 1


def test_one_process_runs_here_and_an_interruption_becomes_an_exit_code(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TESTS)
    assert launch("toys:train_job", {"out": str(tmp_path / "one")}, devices=1, threads=1) == 0
    assert (tmp_path / "one").read_text() == "written by rank 0 with 1 threads\n"

    def interrupted(**kwargs):
        from cosmodl.training import TrainingInterrupted
        raise TrainingInterrupted(signal.SIGUSR1, tmp_path / "checkpoint.pt")

    import toys
    monkeypatch.setattr(toys, "train_job", interrupted)
    assert launch("toys:train_job", {}, devices=1) == 128 + signal.SIGUSR1
    with pytest.raises(ValueError, match="package.module:function"):
        launch("toys.train_job", {}, devices=1)


LAUNCHER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from cosmodl.logs import log_to_file
    from cosmodl.training.launch import launch
    log_to_file({log!r})
    sys.exit(launch("toys:train_job", {{"out": {out!r}, "epochs": {epochs}, "pause": {pause}}}, devices=2,
                    threads=2, log_path={log!r}))
""")


def run_launcher(tmp_path, epochs=2, pause=0.0):
    script = LAUNCHER.format(tests=TESTS, log=str(tmp_path / "train.log"), out=str(tmp_path / "model"),
                             epochs=epochs, pause=pause)
    env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""), COSMODL_PROGRESS="0")
    return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_two_processes_train_rank_0_writes_and_logs(tmp_path):
    proc = run_launcher(tmp_path)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    assert (tmp_path / "model").read_text() == "written by rank 0 with 1 threads\n"  # once, 2 threads / 2
    log = (tmp_path / "train.log").read_text()
    assert "launching" in log and log.count("epoch 2:") == 1  # only rank 0 logs the epochs


@pytest.mark.slow
def test_a_stop_signal_to_the_launcher_checkpoints_the_processes_and_exits_128_plus_signal(tmp_path):
    proc = run_launcher(tmp_path, epochs=50, pause=0.05)
    deadline = time.time() + 120
    while not (tmp_path / "model.started").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)  # what scancel does to the job's main process
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out[-3000:]
    assert (tmp_path / "model_work" / "checkpoint.pt").exists() and not (tmp_path / "model").exists()
    assert "rerun to resume" in (tmp_path / "train.log").read_text()
