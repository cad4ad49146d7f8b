"""A real one-node SLURM (munge, slurmctld, slurmd on loopback) for the cluster tests.

Follows ../shared/notes/cluster.md: Debian's slurm 22.05 packages, two fake V100 GPUs declared as
GRES backed by character devices, configs symlinked into /etc/slurm (jobs do not see SLURM_CONF),
no accounting (snakemake then polls with squeue; MinJobAge keeps finished jobs listed for an hour,
longer than the whole smoke run, so the tests can read every job's partition afterwards).
Daemons are started here and stopped by the PIDs they wrote.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
PARTITION_CPU, PARTITION_GPU, GPU_MODEL = "cpun1", "gpux1", "v100"
N_GPUS = 2


def no_controller_lookups() -> None:
    """Point the SLURM clients at an empty config while no test controller runs.

    snakemake's SLURM executor plugin runs ``scontrol show config`` whenever snakemake starts.
    With the client installed (by these tests) but no ``/etc/slurm/slurm.conf``, scontrol looks
    for a controller in DNS and gives up after about 9 s, on every snakemake call of the session.
    With ``SLURM_CONF`` set to an empty file it fails at once. :meth:`Cluster.start` unsets it.
    """
    if shutil.which("scontrol") and not Path("/etc/slurm/slurm.conf").exists():
        os.environ.setdefault("SLURM_CONF", os.devnull)


def unavailable_reason() -> str | None:
    """Why a real SLURM cannot be started here, or None."""
    if os.geteuid() != 0:
        return "not root"
    if not Path("/etc/debian_version").exists() or shutil.which("apt-get") is None:
        return "not Debian/Ubuntu with apt-get"
    if Path("/etc/slurm/slurm.conf").exists() and not Path("/etc/slurm/slurm.conf").is_symlink():
        return "/etc/slurm/slurm.conf belongs to a real installation"
    running = subprocess.run(["pgrep", "-x", "slurmctld|slurmd"], capture_output=True, text=True).stdout.split()
    if running:
        return f"SLURM daemons already run here (pids {' '.join(running)}); not touching them"
    return None


def install() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(cmd, env=env, capture_output=True, check=True)


def slurm_conf(d: Path, cpus: int) -> str:
    return f"""ClusterName=cosmodltest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
GresTypes=gpu
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=20000 Gres=gpu:{GPU_MODEL}:{N_GPUS} State=UNKNOWN
PartitionName={PARTITION_CPU} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName={PARTITION_GPU} Nodes=ALL Default=NO MaxTime=INFINITE State=UP
"""


class Cluster:
    """Start with :meth:`start`, stop with :meth:`stop` (by PID files)."""

    def __init__(self, directory: Path):
        self.d = Path(directory)
        self.pids: list[int] = []
        self.munge_pid: Path | None = None

    def start(self) -> "Cluster":
        install()
        if os.environ.get("SLURM_CONF") == os.devnull:
            del os.environ["SLURM_CONF"]
        d = self.d
        for sub in ("state", "spool"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for i in range(N_GPUS):
            dev = d / f"nvidia{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(195, i))
        (d / "slurm.conf").write_text(slurm_conf(d, os.cpu_count() or 2))
        (d / "gres.conf").write_text(f"AutoDetect=off\nNodeName=localhost Name=gpu Type={GPU_MODEL} "
                                     f"File={d}/nvidia[0-{N_GPUS - 1}]\n")
        etc = Path("/etc/slurm")
        etc.mkdir(exist_ok=True)
        for name in ("slurm.conf", "gres.conf"):
            link = etc / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(d / name)
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        self.munge_pid = run_dir / "munged.pid"
        if not self._alive(self.munge_pid):
            subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
        subprocess.run(["/usr/sbin/slurmctld"], check=True)
        subprocess.run(["/usr/sbin/slurmd", "-N", "localhost"], check=True)
        for _ in range(200):
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout
            if "idle" in out:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"SLURM did not come up: sinfo says {out!r}; see {d}/slurmctld.log")

    @staticmethod
    def _alive(pid_file: Path) -> bool:
        try:
            os.kill(int(pid_file.read_text().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        for name in ("slurmd.pid", "slurmctld.pid"):
            self._kill(self.d / name)
        if self.munge_pid is not None:
            self._kill(self.munge_pid)
        for name in ("slurm.conf", "gres.conf"):
            link = Path("/etc/slurm") / name
            if link.is_symlink():
                link.unlink()
        no_controller_lookups()

    @staticmethod
    def _kill(pid_file: Path) -> None:
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
