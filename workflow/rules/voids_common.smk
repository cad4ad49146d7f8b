# Voids stage: constants and the input, param and resource functions of its rules (voids.smk).

VOIDS = config["voids"]
VOID_TASKS = ["map", "counts"]
SPLIT_METHODS = ["spatial", "random"]
# Splits the networks are trained on: the configured one, plus the other for the leakage experiment.
TRAIN_SPLITS = (
    SPLIT_METHODS if VOIDS["leakage"]["enabled"] else [VOIDS["split"]["method"]]
)


def download_name(section):
    """File name under resources/voids/downloads/ for a catalogue section with source: url."""
    return f"{section}_{os.path.basename(VOIDS[section]['url'].split('?')[0])}"


def get_catalogue_source(section):
    """Input file of the galaxies/catalogue rule: a download, a local file, or nothing."""
    spec = VOIDS[section]
    if spec["source"] == "url":
        return [f"resources/voids/downloads/{download_name(section)}"]
    if spec["source"] == "file":
        return [spec["path"]]
    return []


def get_download_spec(wildcards):
    for section in ("galaxies", "catalogue"):
        spec = VOIDS[section]
        if spec["source"] == "url" and download_name(section) == wildcards.name:
            return spec
    raise ValueError(f"no catalogue with source: url downloads to {wildcards.name}")


def subbox_products(wildcards):
    """The subbox stacks and index table that training and evaluation read."""
    products = ["images", "void_fraction", "void_centres"]
    inputs = {p: f"results/voids/subboxes/{p}.npy" for p in products}
    inputs["index"] = "results/voids/subboxes/index.fits"
    return inputs


def train_size_reference(wildcards):
    """For the leaky random split: the spatial split whose training-set size it is cut to."""
    if wildcards.method == "random" and VOIDS["leakage"]["match_train_size"]:
        return ["results/voids/splits/spatial.json"]
    return []


voids_devices = train_devices("voids", lambda wildcards: wildcards.task)
