"""Comparing a model with its baselines, and writing a stage's metrics file against its schema."""

from __future__ import annotations

from pathlib import Path

from ..config import load_yaml
from ..io import atomic_output, finite, write_json


def beats(model: dict, baseline: dict, keys, lower_is_better=("rmse",)) -> dict:
    """Per metric, whether the model scores better than the baseline.

    Parameters
    ----------
    model, baseline : dict
        Metric name → value (None or NaN when undefined).
    keys : iterable of str
        Metrics to compare.
    lower_is_better : iterable of str
        Metrics where smaller is better (errors, losses, distances); larger is better for the rest.

    Returns
    -------
    dict
        ``{key: bool}``. An undefined model value never beats; an undefined baseline correlation
        (a constant predictor) counts as 0; any other undefined baseline value is beaten.
    """
    lower = set(lower_is_better)
    result = {}
    for k in keys:
        m, b = _defined(model[k]), _defined(baseline[k])
        if m is None:
            result[k] = False
        elif b is None:
            result[k] = bool(m > 0) if k == "pearson_r" else True
        else:
            result[k] = bool(m < b) if k in lower else bool(m > b)
    return result


def _defined(value):
    return None if value is None or value != value else value


def verdict(values: dict, models, baselines, metric: str, lower_is_better: bool = False,
            standard_errors: dict | None = None) -> dict:
    """Each model against the best of its baselines on one metric: the ``beats`` entry of a metrics file.

    Parameters
    ----------
    values : dict
        Method name → its value of ``metric`` (None or NaN when undefined).
    models, baselines : iterable of str
        Which of ``values`` are the models and which the baselines; names missing from ``values``
        are left out.
    metric : str
        What the values are (``"auc_sub"``, ``"accuracy"``, ``"rmse"``), written into the verdict.
    lower_is_better : bool
        True for errors (RMSE, σ_NMAD); the best baseline is then the lowest.
    standard_errors : dict, optional
        Method name → standard error of its value; adds each model's difference from the best
        baseline in units of the two errors combined (``z``; positive when the model is better).

    Returns
    -------
    dict
        ``{"metric", "lower_is_better", "best_baseline", "baseline_value", "models": {name:
        {"value", "beats"[, "z"]}}}``; ``best_baseline`` is None when no baseline value is defined
        (every defined model value then beats it, as in :func:`beats`).
    """
    sign = -1.0 if lower_is_better else 1.0
    defined = {b: _defined(values[b]) for b in baselines if b in values}
    defined = {b: v for b, v in defined.items() if v is not None}
    best = max(defined, key=lambda b: sign * defined[b]) if defined else None
    base_value = defined.get(best)
    out = {"metric": metric, "lower_is_better": bool(lower_is_better), "best_baseline": best,
           "baseline_value": base_value, "models": {}}
    lower = [metric] if lower_is_better else []
    for name in models:
        if name not in values:
            continue
        value = _defined(values[name])
        entry = {"value": value, "beats": beats({metric: value}, {metric: base_value}, [metric], lower)[metric]}
        if standard_errors is not None and value is not None and base_value is not None:
            se = (standard_errors.get(name) or 0.0) ** 2 + (standard_errors.get(best) or 0.0) ** 2
            entry["z"] = sign * (value - base_value) / se ** 0.5 if se > 0 else None
        out["models"][name] = entry
    return out


def write_metrics(doc: dict, schema_path: str | Path, out_path: str | Path) -> dict:
    """Check a metrics document against its JSON schema, then write it (NaN as null, atomically).

    Raises
    ------
    jsonschema.ValidationError
        Naming the first part of ``doc`` that does not follow the schema; nothing is written.
    """
    import jsonschema

    jsonschema.validate(finite(doc), load_yaml(schema_path))  # what the file will hold: NaN as null
    write_json(doc, out_path)
    return doc


def format_value(value, digits: int = 3) -> str:
    """A number for a markdown table cell: ``digits`` decimals, an empty cell for None or NaN."""
    return "" if value is None or value != value else f"{value:.{digits}f}"


def write_markdown_table(path: str | Path, title: str, heading: str, table: str) -> None:
    """Write a stage's results table as markdown: a title, a paragraph saying what the columns mean, the table.

    Parameters
    ----------
    path : str or Path
        Output ``.md`` file, written atomically.
    title : str
        The level-1 heading, without the ``#``.
    heading : str
        One paragraph under the title (scale, split, what the published column is).
    table : str
        The markdown table, as the stage's metrics document holds it.
    """
    with atomic_output(path) as tmp:
        tmp.write_text(f"# {title}\n\n{heading}\n\n{table}\n")
