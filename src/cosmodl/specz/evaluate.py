"""metrics.json and the markdown table of the specz stage, from the per-noise-level evaluations."""

from __future__ import annotations

import json

from ..evaluation.compare import format_value, verdict, write_markdown_table, write_metrics

# The only verified number of the source project (note specz.md section 3): the ADAX datathon's
# 3-block network on 5,000 training spectra of its own (COSMOS-mock) data. The paper's accuracies
# are not verified and are not quoted.
PUBLISHED = {"cnn3": {"accuracy": 0.216, "set": "validation", "n_train": 5000, "data": "ADAX (COSMOS mock), clean",
                      "source": "gtsagkatakis/ADAX-datathon notebook"}}
COLUMNS = (("accuracy", "acc."), ("within_1", "±1 class"), ("within_5", "±5 classes"), ("sigma_nmad", "σ_NMAD"),
           ("outliers_0.15", "out. >0.15"), ("outliers_0.01", "out. >0.01"))


def collect_metrics(evaluations, schema_path, out_path) -> dict:
    """Merge the evaluations of each noise level into ``metrics.json`` (schema-checked)."""
    noise = {}
    for path in evaluations:
        doc = json.loads(open(path).read())
        doc["beats"] = baseline_verdict(doc["methods"])
        noise[doc["noise"]] = doc
    doc = {"stage": "specz", "chance": 1 / 800, "published": PUBLISHED, "noise": noise, "table": metrics_table(noise)}
    return write_metrics(doc, schema_path, out_path)


def baseline_verdict(methods: dict) -> dict:
    """Each CNN run of a noise level against the better of the template fit and the random forest,
    on the accuracy of the most probable class."""
    values = {name: m["mode"]["accuracy"] for name, m in methods.items()}
    cnns = [name for name, m in methods.items() if m["kind"] == "cnn"]
    return verdict(values, cnns, [name for name in methods if name not in cnns], "accuracy")


def _order(item):
    name, m = item
    return (m["kind"] != "cnn", m.get("blocks") or 0, m.get("n_train") or 0, name)


def metrics_table(noise: dict) -> str:
    """Markdown: per noise level and method (CNNs by depth and training size), the mode's metrics."""
    head = " | ".join(label for _, label in COLUMNS)
    lines = [f"| noise | method | n_train | {head} | 68 % coverage |", "|---|---|---|" + "---|" * (len(COLUMNS) + 1)]
    for level, doc in noise.items():
        snr = "" if doc["snr"] is None else f" (SNR {doc['snr']:g})"
        for name, m in sorted(doc["methods"].items(), key=_order):
            scores = " | ".join(_fmt(m["mode"][k], k) for k, _ in COLUMNS)
            lines.append(f"| {level}{snr} | {name} | {m.get('n_train') or ''} | {scores} | "
                         f"{m['calibration']['coverage_68']:.2f} |")
    return "\n".join(lines)


def write_table(doc: dict, path) -> None:
    """Write the metrics table with a heading that says what the columns mean."""
    heading = ("Test spectra; a method's class is its most probable one (the template fit's least chi^2). "
               "±1 / ±5: within that many classes of 0.001. σ_NMAD and outliers of Δz/(1+z). 68 % coverage: share "
               "of true redshifts inside the method's 16-84 % interval (0.68 when calibrated). Chance = 1/800. "
               "The only verified published number is the ADAX network's validation accuracy of 0.216 on 5,000 "
               "training spectra of its own data (metrics.json, published).")
    write_markdown_table(path, "specz: redshift classification of synthetic Euclid-like spectra", heading,
                         doc["table"])


def _fmt(value, key) -> str:
    return format_value(value, 5 if key == "sigma_nmad" else 3)
