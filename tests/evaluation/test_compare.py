"""Model against baseline, and a metrics file that follows its schema or is not written."""

import json

import jsonschema
import pytest

from cosmodl.evaluation.compare import beats, format_value, verdict, write_markdown_table, write_metrics


def test_beats_compares_in_the_right_direction():
    model = {"auc": 0.9, "rmse": 2.0, "pearson_r": 0.3, "w1": 0.2}
    baseline = {"auc": 0.8, "rmse": 1.0, "pearson_r": None, "w1": 0.25}
    assert beats(model, baseline, ["auc", "rmse", "pearson_r", "w1"], lower_is_better=("rmse", "w1")) == \
        {"auc": True, "rmse": False, "pearson_r": True, "w1": True}
    assert beats({"pearson_r": -0.1}, {"pearson_r": None}, ["pearson_r"]) == {"pearson_r": False}  # r of a constant is 0
    assert beats({"auc": float("nan")}, {"auc": 0.5}, ["auc"]) == {"auc": False}


def test_verdict_takes_the_best_baseline_in_the_metric_s_direction():
    values = {"net": 0.70, "weak": 0.60, "strong": 0.65, "bad_net": 0.62, "nan_net": float("nan")}
    doc = verdict(values, ["net", "bad_net", "nan_net", "absent"], ["weak", "strong"], "auc",
                  standard_errors={"net": 0.03, "strong": 0.04, "bad_net": 0.03})
    assert (doc["best_baseline"], doc["baseline_value"], doc["lower_is_better"]) == ("strong", 0.65, False)
    assert {k: v["beats"] for k, v in doc["models"].items()} == {"net": True, "bad_net": False, "nan_net": False}
    assert doc["models"]["net"]["z"] == pytest.approx(0.05 / 0.05)  # sqrt(0.03^2 + 0.04^2) = 0.05
    assert doc["models"]["bad_net"]["z"] == pytest.approx(-0.03 / 0.05)
    errors = verdict({"net": 2.0, "a": 1.5, "b": 3.0}, ["net"], ["a", "b"], "rmse", lower_is_better=True)
    assert (errors["best_baseline"], errors["models"]["net"]["beats"]) == ("a", False)
    assert "z" not in errors["models"]["net"]
    none = verdict({"net": 0.5, "a": None}, ["net"], ["a"], "accuracy")
    assert (none["best_baseline"], none["models"]["net"]["beats"]) == (None, True)


def test_write_metrics_checks_the_schema_and_writes_nothing_when_it_fails(tmp_path):
    schema = {"type": "object", "required": ["auc"], "properties": {"auc": {"type": ["number", "null"]}},
              "additionalProperties": False}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    write_metrics({"auc": float("nan")}, tmp_path / "schema.json", tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"auc": None}
    with pytest.raises(jsonschema.ValidationError):
        write_metrics({"auc": 0.5, "extra": 1}, tmp_path / "schema.json", tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_format_value_leaves_undefined_cells_empty():
    assert [format_value(v) for v in (0.12345, None, float("nan"), 1)] == ["0.123", "", "", "1.000"]
    assert format_value(0.0012345, 5) == "0.00123"


def test_markdown_table_file_reads_title_heading_table(tmp_path):
    path = tmp_path / "table.md"
    write_markdown_table(path, "Stage: results", "What the columns mean.", "| a | b |\n|---|---|\n| 1 | 2 |")
    assert path.read_text() == "# Stage: results\n\nWhat the columns mean.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]  # no temporary left
