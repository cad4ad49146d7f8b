"""Configuration: JSON-Schema validation with defaults, and one clear message per error.

The schema (``workflow/schemas/config.schema.yaml``) holds every key's type, range, description
and default; :func:`validate_config` returns the config with defaults filled in, or raises a
:class:`~cosmodl.errors.ConfigError` that names the offending key as a dotted path.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from .errors import ConfigError


def load_yaml(path: str | Path) -> dict:
    """Read a YAML file into a dict; an empty file gives ``{}``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _extend_with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_defaults(jsonschema.Draft202012Validator)


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return f"config key {where}: unknown key(s) {unknown}; allowed keys: {allowed}"
    if error.validator == "type" and error.instance is None:
        return f"config key {where}: a value is required for the chosen source (got null)"
    return f"config key {where}: {error.message}"


def validate_config(config: dict, schema: dict) -> dict:
    """Validate ``config`` against ``schema`` and return a copy with defaults filled in.

    Parameters
    ----------
    config : dict
        Parsed configuration (e.g. Snakemake's ``config``).
    schema : dict
        JSON Schema (draft 2020-12) with ``default`` values.

    Raises
    ------
    ConfigError
        Names the first offending key as a dotted path, e.g.
        ``config key voids.galaxies.mock.bias: -1 is less than the minimum of 0``.
    """
    filled = copy.deepcopy(config)
    validator = _DefaultFillingValidator(schema)
    errors = list(validator.iter_errors(filled))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best))
    return filled
