from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def schema():
    from cosmodl.config import load_yaml

    return load_yaml(ROOT / "workflow" / "schemas" / "config.schema.yaml")
