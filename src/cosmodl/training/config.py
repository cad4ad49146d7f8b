"""The trainer's settings: a frozen dataclass whose defaults are those of the config schema.

``$defs/train`` in ``src/cosmodl/schemas/config.schema.yaml`` is the one source of truth: the
dataclass takes its defaults from there, :meth:`TrainConfig.from_config` validates a config
section against it (an unknown key is an error naming it, never dropped), and constructing a
``TrainConfig`` directly checks every value against the same ranges.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import merge, schema_defaults, validate_section
from ..errors import ConfigError

_DEFAULTS = schema_defaults("train")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`cosmodl.training.fit` (a ``train`` section of the config).

    See ``$defs/train`` in the config schema for each key's meaning, unit and range.
    """

    epochs: int = _DEFAULTS["epochs"]
    batch_size: int = _DEFAULTS["batch_size"]
    optimizer: str = _DEFAULTS["optimizer"]
    lr: float = _DEFAULTS["lr"]
    weight_decay: float = _DEFAULTS["weight_decay"]
    momentum: float = _DEFAULTS["momentum"]
    scheduler: str = _DEFAULTS["scheduler"]
    warmup_fraction: float = _DEFAULTS["warmup_fraction"]
    clip_grad_norm: float | None = _DEFAULTS["clip_grad_norm"]
    augment: bool = _DEFAULTS["augment"]
    patience: int = _DEFAULTS["patience"]
    num_workers: int = _DEFAULTS["num_workers"]
    device: str = _DEFAULTS["device"]
    seed: int = _DEFAULTS["seed"]
    devices: int = _DEFAULTS["devices"]

    def __post_init__(self):
        validate_section(dataclasses.asdict(self), "train", "train")

    @classmethod
    def from_config(cls, section: dict, key: str = "train") -> "TrainConfig":
        """Validate a config section (defaults filled in, unknown keys refused) and build the config.

        Parameters
        ----------
        section : dict
            E.g. ``config['voids']['train']``.
        key : str
            Its dotted name in error messages.
        """
        return cls(**validate_section(section, "train", key))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def train_settings(stage_cfg: dict, name: str, stage: str) -> dict:
    """A stage's ``train`` section with ``train_overrides.<name>`` over it, validated (defaults filled in).

    Parameters
    ----------
    stage_cfg : dict
        ``config[stage]``, with ``train`` and ``train_overrides`` (per network name).
    name : str
        The network (or task/method) whose overrides apply.
    stage : str
        For error messages.
    """
    override = (stage_cfg.get("train_overrides") or {}).get(name) or {}
    settings = validate_section(merge(stage_cfg["train"], override), "train",
                                f"{stage}.train (+ train_overrides.{name})")
    if settings["devices"] > 1 and settings["batch_size"] % settings["devices"]:
        where = {k: f"{stage}.train_overrides.{name}" if k in override else f"{stage}.train"
                 for k in ("batch_size", "devices")}
        raise ConfigError(f"config keys {where['batch_size']}.batch_size = {settings['batch_size']} and "
                          f"{where['devices']}.devices = {settings['devices']}: the batch size must be a multiple "
                          f"of the number of processes (network {name})")
    return settings


def check_train_overrides(stage_cfg: dict, stage: str, used) -> None:
    """Parse-time check of a stage's training settings: every ``train_overrides`` entry is valid over
    ``train`` whether or not that network is in use (the schema already refuses names that are no
    network of the stage), and the settings of each network in ``used`` hold together
    (:func:`train_settings`).

    Raises
    ------
    ConfigError
        Naming ``<stage>.train (+ train_overrides.<name>)`` or the key that is wrong.
    """
    for name in [*(stage_cfg.get("train_overrides") or {}), *used]:
        train_settings(stage_cfg, name, stage)
