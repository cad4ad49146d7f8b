"""Small validated lensing configs for the tests."""

from cosmodl.config import load_schema, validate_config


def small_cfg(**sizes):
    """A validated lensing section with tiny data sets."""
    sizes = {"train": 4, "val": 2, "test": 3, **sizes}
    return validate_config({"lensing": {"sizes": sizes, "chunk_size": 7}}, load_schema())["lensing"]
