"""Configuration: JSON-Schema validation with defaults, cross-field checks, one clear message per error.

The schema (``src/cosmodl/schemas/config.schema.yaml``) holds every key's type, range, description
and default; blocks that several stages share (training, splits, catalogue files) are defined once
under ``$defs``. :func:`validate_config` returns the config with defaults filled in, or raises a
:class:`~cosmodl.errors.ConfigError` that names the offending key as a dotted path.
:func:`check_stages` then runs each enabled stage's cross-field checks (values that are valid
one by one but not together), so that the workflow refuses them when it is parsed.

``python -m cosmodl.config check [FILE ...]`` does all of it for ``config.yaml`` with the given
files merged over it the way ``snakemake --configfile`` merges them, and names the file and line
of a YAML syntax error (``make check-config CONFIG=FILE``).
"""

from __future__ import annotations

import copy
import functools
import importlib
import sys
from pathlib import Path

import jsonschema
import yaml

from .errors import ConfigError, CosmodlError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"  # package data: found in any kind of install
DEFAULT_CONFIG = ROOT / "config.yaml"


def load_yaml(path: str | Path, allow_empty: bool = True) -> dict:
    """Read a YAML file into a dict; an empty file gives ``{}`` (an error unless ``allow_empty``).

    Raises
    ------
    ConfigError
        For a missing file, a syntax error (with its line and column) or a top level that is not
        a mapping; the message starts with the file name.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from exc
    if data is None:
        if not allow_empty:  # as snakemake refuses it, with a message that does not name the file
            raise ConfigError(f"{path} is empty: snakemake refuses an empty --configfile; add keys or leave it out")
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


@functools.cache
def _schema(name: str) -> dict:
    return load_yaml(SCHEMA_DIR / f"{name}.schema.yaml")


def load_schema(name: str = "config") -> dict:
    """A schema of ``src/cosmodl/schemas/`` by name (``config``, ``voids_metrics``), as a fresh copy."""
    return copy.deepcopy(_schema(name))


def _extend_with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" not in subschema:
                    continue
                if name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
                elif isinstance(instance[name], dict) and isinstance(subschema["default"], dict):
                    # An object default is a stage's preset (e.g. lensing.train): a partial user
                    # value overrides its keys one by one instead of replacing the whole preset.
                    instance[name] = merge(subschema["default"], instance[name])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_defaults(jsonschema.Draft202012Validator)


def _allowed_keys(schema: dict, root: dict) -> set[str]:
    """Property names a (sub)schema accepts, following local ``$ref`` and ``allOf``."""
    keys = set(schema.get("properties", {}))
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        keys |= _allowed_keys(root["$defs"][ref.split("/")[-1]], root)
    for sub in schema.get("allOf", []):
        keys |= _allowed_keys(sub, root)
    return keys


def _describe(error: jsonschema.ValidationError, root: dict, prefix: str = "") -> str:
    where = ".".join([prefix] * bool(prefix) + [str(p) for p in error.absolute_path]) or "<top level>"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        allowed = sorted(_allowed_keys(error.schema, root))
        unknown = sorted(set(error.instance) - set(allowed))
        return f"config key {where}: unknown key(s) {unknown}; allowed keys: {allowed}"
    if error.validator == "type" and error.instance is None:
        return f"config key {where}: a value is required for the chosen source (got null)"
    if error.validator == "anyOf":
        choices = " or ".join(_alternative(option) for option in error.validator_value)
        return f"config key {where}: {error.instance!r} must be {choices}"
    return f"config key {where}: {error.message}"


def _alternative(option: dict) -> str:
    """One branch of an ``anyOf`` in words: ``'auto'``, ``a number >= 0``."""
    if "const" in option:
        return repr(option["const"])
    bound = f" >= {option['minimum']}" if "minimum" in option else ""
    return f"a {option.get('type', 'value')}{bound}"


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
    return _validate(config, schema, schema, "")


def _validate(instance, schema: dict, root: dict, prefix: str):
    filled = copy.deepcopy(instance)
    errors = list(_DefaultFillingValidator(schema).iter_errors(filled))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors), root, prefix))
    return filled


def validate_section(section: dict, definition: str, key: str) -> dict:
    """Validate one config section against ``$defs/<definition>`` of the config schema, filling defaults.

    Parameters
    ----------
    section : dict
    definition : str
        Name under ``$defs`` (``train``, ``split``, ``catalogue_file``).
    key : str
        Dotted key of the section in messages (``voids.train``).
    """
    root = _schema("config")
    schema = {"$defs": root["$defs"], "$ref": f"#/$defs/{definition}"}
    return _validate(section, schema, root, key)


def schema_defaults(definition: str) -> dict:
    """Default of every key of ``$defs/<definition>`` in the config schema."""
    props = _schema("config")["$defs"][definition]["properties"]
    return {name: copy.deepcopy(spec.get("default")) for name, spec in props.items()}


def check_stages(config: dict) -> None:
    """Run the cross-field checks of every stage listed in ``config['stages']`` (a validated config)."""
    from .contract import STAGES

    for stage in config.get("stages", []):
        if stage in STAGES:  # the contract's check_config(config) -> None, raising ConfigError
            importlib.import_module(f"cosmodl.{stage}.checks").check_config(config)


def check_distinct_names(values, name_of, key: str, where: str) -> None:
    """Refuse two settings that become one file name (``name_of(value)``), naming the key and both values.

    Raises
    ------
    ConfigError
        E.g. ``cm21.f_esc: 0.07 and 0.0704 both become 'f0.070' in realization folder names``.
    """
    seen = {}
    for value in values:
        name = name_of(value)
        if name in seen:
            raise ConfigError(f"{key}: {seen[name]} and {value} both become {name!r} in {where}; "
                              "give values that differ there")
        seen[name] = value


def merge(base: dict, override: dict) -> dict:
    """``override`` merged into a copy of ``base``, recursively (how snakemake merges ``--configfile``)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_files(paths) -> dict:
    """``config.yaml`` with ``paths`` merged over it, validated and cross-checked; the filled config.

    An empty file is an error here, as it is for ``snakemake --configfile``.
    """
    config = load_yaml(DEFAULT_CONFIG)
    for path in paths:
        config = merge(config, load_yaml(path, allow_empty=False))
    config = validate_config(config, _schema("config"))
    check_stages(config)
    return config


def main(argv=None) -> int:
    """``python -m cosmodl.config check [FILE ...]``: exit 0 and say so, or 2 with one message."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "check":
        print("usage: python -m cosmodl.config check [CONFIGFILE ...]", file=sys.stderr)
        return 2
    try:
        check_files(argv[1:])
    except (CosmodlError, ValueError, OSError) as exc:  # every error a stage's checks raise: one line
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    print(f"config OK: {DEFAULT_CONFIG.name}" + "".join(f" + {p}" for p in argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
