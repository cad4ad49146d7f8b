import pytest

from cosmodl.config import load_yaml, validate_config
from cosmodl.errors import ConfigError
from cosmodl.voids.subboxes import SubboxLattice


def test_empty_config_gets_every_default(schema):
    config = validate_config({}, schema)
    assert config["voids"]["catalogue"]["find"]["threshold"] == -0.7
    assert config["voids"]["galaxies"]["format"] == "auto"
    assert config["voids"]["split"]["method"] == "spatial"


@pytest.mark.parametrize("name", ["config.yaml", "configs/smoke.yaml", "configs/paper.yaml"])
def test_presets_validate(repo_root, schema, name):
    validate_config(load_yaml(repo_root / name), schema)


def test_paper_preset_is_seed_scale(repo_root, schema):
    sub = validate_config(load_yaml(repo_root / "configs/paper.yaml"), schema)["voids"]["subboxes"]
    lattice = SubboxLattice(1050.0, sub["n_cells"], sub["size"], sub["stride"], sub["wrap"], sub["count"])
    assert lattice.n_subboxes == 10_648 and sub["map_size"] == 56


@pytest.mark.parametrize("config, message", [
    ({"voids": {"box_sise": 100}}, r"config key voids: unknown key\(s\) \['box_sise'\]"),
    ({"voids": {"galaxies": {"mock": {"bias": -1}}}}, "config key voids.galaxies.mock.bias: -1 is less than"),
    ({"voids": {"subboxes": {"size": "big"}}}, "config key voids.subboxes.size: 'big' is not of type 'integer'"),
    ({"voids": {"galaxies": {"source": "url"}}}, "config key voids.galaxies.url: a value is required"),
    ({"voids": {"catalogue": {"source": "web"}}}, "config key voids.catalogue.source: 'web' is not one of"),
    ({"voids": {"galaxies": {"source": "url", "url": "https://x/y", "sha256": "12"}}}, "voids.galaxies.sha256"),
])
def test_bad_config_names_the_key(schema, config, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(config, schema)


def test_every_schema_key_has_a_type_and_a_description(schema):
    """Walk the schema (properties, $defs, if/then excepted): each key says what it is."""
    missing = []

    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            here = f"{path}.{name}" if path else name
            if "description" not in sub:
                missing.append(here)
            if "type" not in sub and "$ref" not in sub:
                missing.append(f"{here} (type)")
            walk(sub, here)

    walk(schema, "")
    for name, definition in schema["$defs"].items():
        walk(definition, f"$defs.{name}")
    assert not missing, missing


def test_train_config_defaults_and_keys_come_from_the_schema(schema):
    import dataclasses

    from cosmodl.training import OPTIMIZERS, SCHEDULERS, TrainConfig

    props = schema["$defs"]["train"]["properties"]
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert fields == {k: v.get("default") for k, v in props.items()}
    assert set(props["optimizer"]["enum"]) == set(OPTIMIZERS)
    assert set(props["scheduler"]["enum"]) == set(SCHEDULERS)
    assert TrainConfig.from_config({"epochs": 3}).epochs == 3
    with pytest.raises(ConfigError, match=r"config key voids.train: unknown key\(s\) \['epoch'\]"):
        TrainConfig.from_config({"epoch": 3}, "voids.train")
    with pytest.raises(ConfigError, match="config key train.optimizer: 'lbfgs' is not one of"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 2


def test_voids_train_section_is_the_shared_block(schema):
    config = validate_config({"voids": {"train": {"epochs": 2}, "split": {"buffer": 30}}}, schema)["voids"]
    assert config["train"]["optimizer"] == "adamw" and config["train"]["epochs"] == 2
    assert config["split"]["buffer"] == 30 and config["split"]["axis"] == 0
    with pytest.raises(ConfigError, match=r"config key voids.split: unknown key\(s\) \['bufer'\]; allowed keys: "
                                          r"\['axis', 'buffer', 'faces', 'method'"):
        validate_config({"voids": {"split": {"bufer": 30}}}, schema)
    with pytest.raises(ConfigError, match=r"config key voids.split.buffer: 'Auto' must be a number >= 0 or 'auto'"):
        validate_config({"voids": {"split": {"buffer": "Auto"}}}, schema)
    assert validate_config({}, schema)["voids"]["split"]["buffer"] == "auto"
    with pytest.raises(ConfigError, match=r"config key voids.galaxies: unknown key\(s\) \['sha'\]"):
        validate_config({"voids": {"galaxies": {"sha": "x"}}}, schema)


@pytest.mark.parametrize("text, message", [
    ("voids:\n  train:\n    epochs: [1, 2\n", r"bad.yaml:4:1: not valid YAML"),
    ("voids:\n\ttrain: 1\n", r"bad.yaml:2:1: not valid YAML: found character '\\t'"),
    ("", "bad.yaml is empty: snakemake refuses an empty --configfile"),
    ("- voids\n", "bad.yaml: the top level must be a mapping"),
    ("voids:\n  train:\n    epochs: 0\n", "config key voids.train.epochs: 0 is less than the minimum of 1"),
    ("voids:\n  subboxes:\n    map_size: 7\n", "voids.subboxes.map_size = 7 and voids.subboxes.size = 64"),
    ("voids:\n  train_overrides:\n    counts: {batch_size: 9999}\n",
     "voids.train_overrides.counts.batch_size = 9999 is larger than the spatial split"),
    ("voids:\n  train_overrides:\n    map: {batch_size: 9, devices: 2}\n",
     r"voids.train_overrides.map.batch_size = 9 and voids.train_overrides.map.devices = 2"),
])
def test_check_config_names_the_file_and_line(tmp_path, text, message):
    import re
    import subprocess
    import sys

    (tmp_path / "bad.yaml").write_text(text)
    result = subprocess.run([sys.executable, "-m", "cosmodl.config", "check", str(tmp_path / "bad.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and re.search(message, result.stderr), result.stderr


def test_check_config_accepts_the_presets_and_names_a_missing_file(repo_root, tmp_path):
    import subprocess

    ok = subprocess.run(["make", "-s", "check-config", "CONFIG=configs/smoke.yaml configs/paper.yaml"],
                        capture_output=True, text=True, cwd=repo_root)
    assert ok.returncode == 0 and "config OK" in ok.stdout, ok.stderr
    missing = subprocess.run(["make", "-s", "check-config", f"CONFIG={tmp_path / 'nope.yaml'}"],
                             capture_output=True, text=True, cwd=repo_root)
    assert missing.returncode != 0 and "nope.yaml: no such config file" in missing.stderr


def test_schemas_are_package_data_found_without_the_repository():
    """A non-editable install has no workflow/ folder: the schemas must sit in the package and be
    listed as its package data (pyproject), and config.py must find them there."""
    import tomllib
    from pathlib import Path

    import cosmodl
    from cosmodl.config import SCHEMA_DIR

    package = Path(cosmodl.__file__).parent
    assert SCHEMA_DIR.parent == package
    patterns = tomllib.loads((package.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in patterns["cosmodl"] for p in package.glob(pattern)}
    assert {p for p in SCHEMA_DIR.iterdir() if p.suffix == ".yaml"} == shipped
    assert {"config", "voids_metrics", "lensing_metrics", "cm21_metrics", "specz_metrics"} <= \
        {p.name.removesuffix(".schema.yaml") for p in shipped}
