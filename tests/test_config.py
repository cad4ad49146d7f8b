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
