"""The stage contract's layout: a stage's science lives in its own package, the kit knows no stage."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cosmodl

STAGES = ("voids", "lensing", "cm21", "specz")
PACKAGE = Path(cosmodl.__file__).parent


def stage_imports(source: str, package: tuple[str, ...]) -> list[str]:
    """Stage packages that a module of ``package`` (('cosmodl', 'figures')) imports, absolute,
    relative or inside a function, as 'line: name'."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if len(parts) >= 2 and parts[0] == "cosmodl" and parts[1] in STAGES:
                found.append(f"{node.lineno}: {name}")
                break
    return found


def kit_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in STAGES)


def package_of(path: Path) -> tuple[str, ...]:
    return path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]


def test_no_kit_module_imports_a_stage_package():
    offenders = {str(p.relative_to(PACKAGE)): stage_imports(p.read_text(), package_of(p)) for p in kit_modules()}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_import_scan_sees_relative_absolute_and_lazy_imports():
    """Break the rule on purpose in a kit module's source: the scan must name each import."""
    source = (PACKAGE / "figures" / "common.py").read_text() + (
        "\nfrom ..lensing.data import MinMax\nimport cosmodl.cm21.boxes\n"
        "def _lazy():\n    from ..specz import spectra\n    from .. import voids\n")
    names = [entry.split(": ")[1] for entry in stage_imports(source, ("cosmodl", "figures"))]
    assert sorted(names) == ["cosmodl.cm21.boxes", "cosmodl.lensing.data", "cosmodl.specz", "cosmodl.voids"]
    assert not stage_imports((PACKAGE / "figures" / "common.py").read_text(), ("cosmodl", "figures"))


@pytest.mark.parametrize("kit", ["models", "figures"])
def test_models_and_figures_hold_no_stage_module(kit):
    assert not sorted(p.stem for p in (PACKAGE / kit).glob("*.py") if p.stem in STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_holds_its_models_and_figures(stage):
    assert {"models.py", "figures.py", "checks.py", "resources.py"} <= {p.name for p in (PACKAGE / stage).glob("*.py")}


def test_a_model_record_loads_in_a_process_that_imported_no_stage(tmp_path):
    """The record names the module that registers its architecture; loading imports it."""
    from cosmodl.models import build_model
    from cosmodl.records import save_model
    from cosmodl.specz import models  # noqa: F401  (registers specz_cnn)

    model = build_model("specz_cnn", {"blocks": 1})
    save_model(tmp_path / "m.pt", "specz_cnn", {"blocks": 1}, model)
    code = ("import sys, torch; from cosmodl.records import load_model; "
            "assert not any(m.startswith('cosmodl.specz') for m in sys.modules); "
            f"model, record = load_model({str(tmp_path / 'm.pt')!r}); print(record['module'], type(model).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["cosmodl.specz.models", "SpectrumCNN"]


def steps_called_by_scripts(repo_root: Path, stage: str) -> dict[str, set[str]]:
    """Per rule of ``stage``: the 'module.function' names of the stage that its script calls.

    The metrics rules of every stage share ``scripts/metrics.py``, which calls the contract's
    ``evaluate.collect_metrics`` and ``evaluate.write_table`` of the stage named in the rule's params.
    """
    rules = (repo_root / "workflow" / "rules" / f"{stage}.smk").read_text()
    steps = {}
    for rule, body in re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", rules, re.M | re.S):
        script = re.search(r'"\.\./\.\./scripts/(\w+\.py)"', body)
        if script is None:
            continue
        text = (repo_root / "scripts" / script.group(1)).read_text()
        if script.group(1) == "metrics.py":
            assert f'stage="{stage}"' in body, f"{rule}: scripts/metrics.py needs params stage={stage!r}"
            text = text.replace("cosmodl.{snakemake.params.stage}", f"cosmodl.{stage}")
            names = {"evaluate.collect_metrics", "evaluate.write_table"}
        else:
            names = set()
        names |= {f"{m}.{f.strip()}" for m, fs in re.findall(rf"from cosmodl\.{stage}\.(\w+) import ([\w, ]+)", text)
                  for f in fs.split(",")}
        names |= {f"{m}.{f}" for m, f in re.findall(rf'"cosmodl\.{stage}\.(\w+):(\w+)"', text)}
        steps[rule] = names
    return steps


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_s_docstring_names_the_steps_its_rules_call(repo_root, stage):
    """The package docstring is the map from rule to function: it must list every rule's call."""
    import importlib

    doc = importlib.import_module(f"cosmodl.{stage}").__doc__
    steps = steps_called_by_scripts(repo_root, stage)
    assert steps, stage
    missing = {rule: sorted(name for name in names if f"``{name}``" not in doc) for rule, names in steps.items()}
    assert not {rule: names for rule, names in missing.items() if names}, missing
    rules = set(re.findall(r"^rule (\w+):", (repo_root / "workflow" / "rules" / f"{stage}.smk").read_text(), re.M))
    assert rules == set(re.findall(rf"^({stage}_\w+) ", doc, re.M))
