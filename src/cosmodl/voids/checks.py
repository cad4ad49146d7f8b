"""Cross-field checks of the voids config: values valid one by one but not together.

They run when the workflow is parsed (``check_config`` via :func:`cosmodl.config.check_stages`)
and by ``make check-config``, so a bad combination stops the run before any rule has run, with a
message that names the keys involved.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..splits import TRAIN, VAL, check_fractions, random_split
from ..training.config import train_settings
from .split import planned_buffer, spatial_split
from .subboxes import SubboxLattice


def check_config(config: dict) -> None:
    """Raise ConfigError for the first inconsistent combination in ``config['voids']`` (validated)."""
    voids = config["voids"]
    sub, spl = voids["subboxes"], voids["split"]
    if sub["size"] > sub["n_cells"]:
        raise ConfigError(f"config keys voids.subboxes.size = {sub['size']} and voids.subboxes.n_cells = "
                          f"{sub['n_cells']}: a subbox cannot be larger than the box")
    if sub["size"] % sub["map_size"]:
        raise ConfigError(f"config keys voids.subboxes.map_size = {sub['map_size']} and voids.subboxes.size = "
                          f"{sub['size']}: the map size must divide the subbox size")
    try:
        check_fractions(spl["test_fraction"], spl["val_fraction"])
    except ConfigError:
        raise ConfigError(f"config keys voids.split.test_fraction = {spl['test_fraction']} and "
                          f"voids.split.val_fraction = {spl['val_fraction']}: they must sum below 1") from None
    lattice = SubboxLattice.from_config(voids)
    buffer = planned_buffer(voids)  # None: 'auto' with a catalogue file, checked when the split reads it
    try:
        spatial = spatial_split(lattice, spl["test_fraction"], spl["val_fraction"], spl["axis"], spl["offset_cells"],
                                buffer or 0.0, spl["faces"])
    except ConfigError as exc:
        auto = (" (auto: twice the largest radius of voids.catalogue.find.radii)"
                if spl["buffer"] == "auto" else "")
        raise ConfigError(f"config keys voids.split and voids.subboxes, split.buffer = {spl['buffer']}{auto}: "
                          f"{exc}") from None
    sizes = {"spatial": (int((spatial == TRAIN).sum()), int((spatial == VAL).sum()))}
    if voids["leakage"]["enabled"] or spl["method"] == "random":
        roles = random_split(lattice.n_subboxes, spl["test_fraction"], spl["val_fraction"], spl["seed"])
        n_train = int((roles == TRAIN).sum())
        if voids["leakage"]["match_train_size"]:  # cut to the spatial split's size (cosmodl.splits.subsample)
            n_train = min(n_train, sizes["spatial"][0])
        sizes["random"] = (n_train, int((roles == VAL).sum()))
    for method, (n_train, n_val) in sizes.items():
        if n_val == 0:
            raise ConfigError(f"config key voids.split.val_fraction = {spl['val_fraction']} leaves the {method} "
                              f"split no validation subboxes; training keeps the weights of the best validation epoch")
    for task in ("map", "counts"):
        train = train_settings(voids, task, "voids")
        where = f"voids.train_overrides.{task}" if voids["train_overrides"].get(task) else "voids.train"
        for method, (n_train, _) in sizes.items():
            if train["batch_size"] > n_train:
                raise ConfigError(f"config key {where}.batch_size = {train['batch_size']} is larger than the {method}"
                                  f" split's training set ({n_train} subboxes from voids.subboxes and voids.split)")
