"""Memory of this machine (or job), and refusing a step that cannot fit before it allocates.

Each stage estimates the peak memory of its steps from the config (the same function gives the
rule's ``mem_mb``, so SLURM asks for what the job needs); a step calls :func:`require_memory`
first and stops at once, naming the config keys that drive the estimate, when the estimate is
larger than the memory it can have. Set ``COSMODL_SKIP_MEMORY_CHECK=1`` to run anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError


class InsufficientMemory(ConfigError):
    """A step's estimated peak memory exceeds what this machine or job can give it."""


def _cgroup_limit_bytes() -> float | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return float(text)
    return None


def machine_memory_mb() -> float:
    """Memory this process can use, MB: physical memory, or the cgroup (SLURM job) limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = _cgroup_limit_bytes()
    return min(total, limit) / 2**20 if limit else total / 2**20


def require_memory(estimate_mb: float, step: str, keys: dict) -> None:
    """Stop before a step that cannot fit in memory.

    Parameters
    ----------
    estimate_mb : float
        Estimated peak memory of the step, MB.
    step : str
        What the step is (for the message).
    keys : dict
        ``{dotted config key: value}`` of the settings that drive the estimate.

    Raises
    ------
    InsufficientMemory
        If ``estimate_mb`` exceeds :func:`machine_memory_mb` (unless ``COSMODL_SKIP_MEMORY_CHECK=1``).
    """
    available = machine_memory_mb()
    if estimate_mb <= available or os.environ.get("COSMODL_SKIP_MEMORY_CHECK") == "1":
        return
    settings = ", ".join(f"{k} = {v}" for k, v in keys.items())
    raise InsufficientMemory(f"{step} needs about {estimate_mb / 1024:.1f} GB of memory but this machine (or job) "
                             f"has {available / 1024:.1f} GB; lower {settings}, or run on a larger node "
                             f"(set COSMODL_SKIP_MEMORY_CHECK=1 to try anyway)")
