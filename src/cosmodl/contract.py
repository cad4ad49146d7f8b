"""The stage contract: what every stage package ``cosmodl.<stage>`` holds, under which name.

A stage is one package holding all of its science. Its modules have the same names and roles in
every stage (:data:`MODULES`), and each offers the names the workflow and the kit call
(:data:`REQUIRED`); a stage may add modules of its own science (``finder``, ``simulate``,
``spectra``...). The kit (every module outside the stage packages) never imports a stage: it reaches
one only through a name recorded in a file (a model record's ``module``) or given by the workflow.
``tests/stage_contract.py`` checks all of it for each stage; the README's stage-kit section says
how to add a fifth.
"""

STAGES = ("voids", "lensing", "cm21", "specz")

MODULES = {
    "__init__": "docstring: the steps its rules call, rule by rule",
    "stage": "the data steps its rules call (simulate or read inputs, make products, split)",
    "data": "its products on disk: layout (documented shapes), readers and writers",
    "models": "its networks, registered with cosmodl.models.register_model",
    "learn": "what it trains: a cosmodl.training.TrainSpec per network, its input transforms, its losses",
    "evaluate": "test-set evaluation, collect_metrics (metrics.json with a beats verdict) and write_table",
    "baselines": "no-learning and classical baselines the networks are reported against",
    "published": "PUBLISHED: the source project's numbers (empty where it published none, with the reason)",
    "figures": "its figures, drawn from its products and metrics",
    "checks": "check_config: cross-field checks of its config section, before any work",
    "resources": "estimate_mb: the memory of each step, from the config",
}

REQUIRED = {
    "__init__": ("READS",),
    "data": ("PRODUCTS",),
    "evaluate": ("collect_metrics", "write_table"),
    "published": ("PUBLISHED",),
    "checks": ("check_config",),
    "resources": ("estimate_mb",),
    "figures": ("{stage}_figures",),
}


class DeclaredSections(dict):
    """A step's config that refuses undeclared sections, ``.get`` included (KeyError naming them)."""

    def __init__(self, data: dict, stage: str, rule: str):
        super().__init__(data)
        self.where = f"{rule} reads config[{stage!r}]"

    def __missing__(self, key):
        raise KeyError(f"{self.where}[{key!r}], which its READS does not declare")

    def get(self, key, default=None):
        return self[key]


# Each stage's package declares READS: rule name -> the entries of config[stage] its step reads.
# An entry is a section or key name ("train"), or "-section.key" to leave one key of a section out
# (a key that only picks which outputs exist, so changing it does not rerun the step).
def step_config(stage: str, rule: str, stage_cfg: dict, strict: bool = False) -> dict:
    """The part of ``config[stage]`` that a rule's step reads, as its ``READS`` declares.

    The workflow passes it as the rule's params (a change reruns only the steps that read it), and
    the contract tests run each step on it with ``strict`` (:class:`DeclaredSections`), so a step
    that reads an undeclared section, even with ``.get``, fails there.

    Raises
    ------
    KeyError
        If the stage declares nothing for ``rule``.
    """
    import importlib

    reads = importlib.import_module(f"cosmodl.{stage}").READS[rule]
    out = {key: stage_cfg[key] for key in reads if not key.startswith("-")}
    for entry in reads:
        if entry.startswith("-"):
            section, key = entry[1:].split(".")
            out[section] = {k: v for k, v in out[section].items() if k != key}
    return DeclaredSections(out, stage, rule) if strict else out
