"""The stage contract (:mod:`cosmodl.contract`) as one set of tests that every stage's tests inherit.

A stage's test module subclasses :class:`StageContract`, sets ``stage`` and implements
:meth:`StageContract.make_tiny_run`: run the stage's own steps (data, split, one training of one
epoch, evaluation) on a tiny config in a temporary folder and say where everything is
(:class:`TinyRun`). The contract then checks, the same way for every stage:

* the package holds the contract's modules and names, and its docstring names its rules;
* the products have the shapes its ``data`` module documents (``PRODUCTS``);
* the split leaks nothing: train, validation and test are disjoint, and the stage's own leak
  check (:meth:`StageContract.leaks`) finds nothing;
* every network the stage registers runs forward in the registry test (all of them, not some);
* train -> record -> load -> predict round-trips through the stored input transform;
* the evaluations merge into a metrics document that follows the schema and holds a ``beats`` verdict;
* the figures draw from the tiny run, outside the smoke pipeline.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from cosmodl.contract import MODULES, REQUIRED, step_config


@dataclass
class TinyRun:
    """What a stage's tiny run made.

    Attributes
    ----------
    folder : Path
    products : dict
        Product name (a key of the stage's ``data.PRODUCTS``) -> path of a ``.npy``, or (path, key) of an ``.npz``.
    split : dict
        ``train``, ``val``, ``test`` -> integer indices of the stage's samples.
    cfg : dict
        The stage's config section the run was made with.
    record : Path
        A model record written by the stage's training step.
    raw_inputs : ndarray
        A few samples as the stage's products hold them (before any transform).
    evaluations : list of Path
        The evaluation files its metrics rule merges.
    metrics_options : dict
        Extra keywords of its ``collect_metrics``.
    draw_figures : callable
        ``draw_figures(metrics: dict, out_dir: Path)``: draws every figure of the stage.
    transform : str or None
        The registered input transform the record's network was trained through (None: raw inputs).
    """

    folder: Path
    products: dict
    split: dict
    cfg: dict
    record: Path
    raw_inputs: np.ndarray
    evaluations: list
    draw_figures: Callable
    transform: str | None
    metrics_options: dict = field(default_factory=dict)
    metrics: dict | None = None  # the merged document, once a test has made it


def tiny_config(stage: str, override: dict | None = None) -> dict:
    """``config[stage]`` of config.yaml with configs/smoke.yaml and ``override`` over it, validated."""
    from cosmodl.config import DEFAULT_CONFIG, load_schema, load_yaml, merge, validate_config

    root = Path(__file__).resolve().parents[1]
    config = merge(merge(load_yaml(DEFAULT_CONFIG), load_yaml(root / "configs" / "smoke.yaml")), override or {})
    return validate_config(config, load_schema("config"))[stage]


def find_verdicts(doc) -> list[dict]:
    """Every ``beats`` entry of a metrics document that is a kit verdict (compare.verdict)."""
    found = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "beats" and isinstance(value, dict):
                found += [v for v in (value, *value.values()) if isinstance(v, dict) and "best_baseline" in v]
            found += find_verdicts(value)
    elif isinstance(doc, list):
        for value in doc:
            found += find_verdicts(value)
    return found


def dims_of(shape: tuple, declared: tuple, name: str, bound: dict) -> None:
    """Bind the symbolic dimensions ``declared`` (ints or names) to ``shape``; names bound twice must agree."""
    assert len(shape) == len(declared), f"{name}: shape {shape}, documented {declared}"
    for size, dim in zip(shape, declared):
        if isinstance(dim, int):
            assert size == dim, f"{name}: shape {shape}, documented {declared}"
        else:
            assert bound.setdefault(dim, size) == size, f"{name}: {dim} = {size}, elsewhere {bound[dim]}"


class StageContract:
    stage: str = ""

    def make_tiny_run(self, folder: Path) -> TinyRun:
        """Run the stage's steps on a tiny config (:meth:`config`), each on what it declares (:meth:`reads`)."""
        raise NotImplementedError

    def leaks(self, run: TinyRun) -> str:
        """The stage's own leak test of ``run.split`` beyond disjoint indices: what leaks, or ''."""
        raise NotImplementedError

    def config(self, section: dict) -> dict:
        """The stage's section of config.yaml with configs/smoke.yaml and ``section`` over it, validated."""
        return tiny_config(self.stage, {self.stage: section})

    @pytest.fixture
    def run(self, tmp_path_factory) -> TinyRun:
        """The tiny run, made once per stage class (kept on the class, not in a class-scoped fixture)."""
        cls = type(self)
        if "_tiny_run" not in cls.__dict__:
            torch.manual_seed(0)
            cls._tiny_run = self.make_tiny_run(tmp_path_factory.mktemp(f"contract_{self.stage}"))
        return cls._tiny_run

    def reads(self, cfg: dict, rule: str) -> dict:
        """What ``rule``'s step may read of the stage's ``cfg``: only what its READS declares (strict)."""
        return step_config(self.stage, rule, cfg, strict=True)

    def module(self, name: str):
        return importlib.import_module(f"cosmodl.{self.stage}" + (f".{name}" if name != "__init__" else ""))

    def test_the_package_holds_the_contract_s_modules_and_names(self):
        for name in MODULES:
            module = self.module(name)
            assert (module.__doc__ or "").strip(), f"cosmodl.{self.stage}.{name} has no docstring"
        for name, attributes in REQUIRED.items():
            for attribute in attributes:
                attribute = attribute.format(stage=self.stage)
                assert hasattr(self.module(name), attribute), f"cosmodl.{self.stage}.{name}.{attribute} is missing"
        collect = inspect.signature(self.module("evaluate").collect_metrics)
        assert list(collect.parameters)[:3] == ["evaluations", "schema_path", "out_path"]

    def test_its_rules_get_what_its_steps_declare_they_read(self, repo_root):
        """READS names keys of the stage's schema section, and every rule whose step reads the config
        passes exactly its declaration (section(stage, rule)); the tiny run below calls each step with
        only what it declares, so a step reading an undeclared key fails there (KeyError)."""
        from cosmodl.config import load_schema

        reads = self.module("__init__").READS
        properties = load_schema("config")["properties"][self.stage]["properties"]
        for rule, entries in reads.items():
            for entry in entries:
                section, _, key = entry.lstrip("-").partition(".")
                assert section in properties, f"{rule}: {entry} is not a key of {self.stage} in the schema"
        rules = (repo_root / "workflow" / "rules" / f"{self.stage}.smk").read_text()
        passed = {}
        for rule, body in re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", rules, re.M | re.S):
            params = re.search(r"^    params:\n((?:        .*\n)+)", body, re.M)
            value = params and re.search(rf"^\s+{self.stage}=(.*?),?\n", params.group(1), re.M)
            if value:
                passed[rule] = " ".join(value.group(1).split())
        assert passed, f"no rule of {self.stage}.smk passes config[{self.stage!r}]"
        for rule, value in passed.items():
            assert rule in reads, f"{rule} passes config[{self.stage!r}] but READS does not declare it"
            assert value in (f'section("{self.stage}", "{rule}")', f"{self.stage}_simulation_section"), (rule, value)

    def test_its_training_goes_through_the_kit_s_recipe(self):
        source = inspect.getsource(self.module("learn"))
        assert "train_and_record" in source and " fit(" not in source and "save_model(" not in source

    def test_products_have_the_documented_shapes(self, run):
        declared = self.module("data").PRODUCTS
        assert set(run.products) <= set(declared), set(run.products) - set(declared)
        bound = {}
        for name, path in run.products.items():
            dtype, dims = declared[name]
            array = np.load(path[0])[path[1]] if isinstance(path, tuple) else np.load(path, mmap_mode="r")
            assert array.dtype == np.dtype(dtype), f"{name}: {array.dtype}, documented {dtype}"
            dims_of(array.shape, dims, name, bound)

    def test_the_split_leaks_nothing(self, run):
        sets = {k: set(np.asarray(run.split[k]).tolist()) for k in ("train", "val", "test")}
        assert all(sets.values()), {k: len(v) for k, v in sets.items()}
        assert not (sets["train"] & sets["val"] or sets["train"] & sets["test"] or sets["val"] & sets["test"])
        assert self.leaks(run) == ""

    def test_every_registered_network_of_the_stage_is_run_by_the_registry_test(self):
        from cosmodl.models import model_names, registering_module

        from models.test_registry import EVERY_MODEL

        mine = [n for n in model_names() if registering_module(n) == f"cosmodl.{self.stage}.models"]
        assert mine and set(mine) <= set(EVERY_MODEL), set(mine) - set(EVERY_MODEL)

    def test_a_record_loads_and_predicts_through_its_stored_transform(self, run):
        """The record alone is enough: load_model rebuilds the network and attaches the transform it was
        trained on; predict applies it (the same numbers as transforming by hand)."""
        from cosmodl.records import load_model, predict

        model, record = load_model(run.record)
        assert record["module"] == f"cosmodl.{self.stage}.models"
        assert (record["transform"] or {}).get("name") == run.transform, record["transform"]
        x = np.asarray(run.raw_inputs, np.float32)
        transformed = x if model.input_transform is None else model.input_transform(x.copy())
        forward = model.predict if callable(getattr(model, "predict", None)) else model
        with torch.no_grad():
            direct = forward(torch.from_numpy(np.asarray(transformed, np.float32)).unsqueeze(1)).numpy()
        np.testing.assert_allclose(predict(model, x), direct, rtol=1e-4, atol=1e-5)
        if model.input_transform is not None:  # the stored transform is what makes the difference
            assert not np.allclose(predict(model, x, transform=None), direct, rtol=1e-4, atol=1e-5)

    def test_the_evaluations_merge_into_a_schema_valid_document_with_a_verdict(self, run, repo_root):
        evaluate = self.module("evaluate")
        schema = repo_root / "src" / "cosmodl" / "schemas" / f"{self.stage}_metrics.schema.yaml"
        out = run.folder / "metrics.json"
        doc = evaluate.collect_metrics([str(p) for p in run.evaluations], schema, out, **run.metrics_options)
        assert json.loads(out.read_text())  # written (validated first: write_metrics)
        verdicts = find_verdicts(doc)
        assert verdicts and all(v["best_baseline"] is not None for v in verdicts), verdicts
        evaluate.write_table(doc, run.folder / "table.md")
        assert (run.folder / "table.md").read_text().count("\n|") >= 2
        run.metrics = doc

    def test_the_figures_draw_from_the_tiny_run(self, run):
        metrics = run.metrics
        if metrics is None:
            self.test_the_evaluations_merge_into_a_schema_valid_document_with_a_verdict(run, Path(__file__).parents[1])
            metrics = run.metrics
        out = run.folder / "figures"
        run.draw_figures(metrics, out)
        pngs = sorted(out.glob("*.png"))
        assert pngs and all(p.stat().st_size > 5000 for p in pngs), [(p.name, p.stat().st_size) for p in pngs]
