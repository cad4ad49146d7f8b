"""The workflow's own hygiene: snakemake --lint and snakefmt."""

import re
import subprocess
import sys

# pip-only project: the pinned environment is pyproject.toml, not a per-rule conda file (README).
ALLOWED_LINTS = {"Specify a conda environment or container for each rule."}


def test_snakemake_lint_is_clean_apart_from_conda(repo_root, tmp_path):
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo_root / "Snakefile"), "--lint",
                             "--directory", str(tmp_path)], capture_output=True, text=True, cwd=repo_root)
    lints = set(re.findall(r"^    \* (.+?):?$", result.stdout + result.stderr, flags=re.M))
    assert lints, "lint output changed shape; check it by hand"
    assert lints <= ALLOWED_LINTS, lints - ALLOWED_LINTS


def test_snakefmt_is_clean(repo_root):
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/"],
                            capture_output=True, text=True, cwd=repo_root)
    assert result.returncode == 0, result.stderr[-2000:]
