import pytest

from cosmodl.config import load_schema, validate_config


@pytest.fixture(scope="session")
def lensing_cfg():
    """The lensing section with schema defaults (paper-faithful values)."""
    return validate_config({}, load_schema())["lensing"]

