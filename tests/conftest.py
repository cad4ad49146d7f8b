from pathlib import Path

import pytest

# the stage contract's checks live outside test_*.py files: give them pytest's assert messages
pytest.register_assert_rewrite("stage_contract")

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    from cluster.slurm import no_controller_lookups  # tests/ is on sys.path (rootdir conftest)

    no_controller_lookups()


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need CUDA: skip them, saying why, where there is none."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def schema():
    from cosmodl.config import load_yaml

    return load_yaml(ROOT / "src" / "cosmodl" / "schemas" / "config.schema.yaml")


class _RunDir(type(Path())):
    """A workdir path that also carries the wall time of the run that filled it."""

    seconds: float = 0.0


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The smoke pipeline (configs/smoke.yaml, every stage) run once per session on 2 local cores.

    One thread per job, so two jobs run at once (most smoke jobs are start-up, and small
    networks gain little from a second thread); the real-SLURM run does the same
    (tests/cluster/ci-profile), so the two give bitwise equal weights. Shared by the integration
    tests and the real-SLURM comparison; tests that change a run work on a copy.
    """
    import os
    import subprocess
    import sys
    import time

    workdir = _RunDir(tmp_path_factory.mktemp("smoke"))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores",
           "2", "--max-threads", "1", "--configfile", str(ROOT / "configs/smoke.yaml")]
    t0 = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                            env=dict(os.environ, COSMODL_PROGRESS="1"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    workdir.seconds = time.perf_counter() - t0
    return workdir

