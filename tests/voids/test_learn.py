import json

import jsonschema
import numpy as np
import pytest
import torch

from cosmodl.config import load_yaml
from cosmodl.io import write_json
from cosmodl.splits import subsample
from cosmodl.voids.evaluate import merge_evaluations
from cosmodl.voids.learn import ImageTransform, dihedral


def test_dihedral_moves_image_and_map_together():
    """The map is the 4x4 block mean of the image; that must hold after every one of the 8 operations."""
    x = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(2, 1, 16, 16) ** 1.3
    y = x[:, 0].reshape(2, 4, 4, 4, 4).mean(dim=(2, 4))
    seen = set()
    for seed in range(40):
        xa, ya = dihedral(x, y, torch.Generator().manual_seed(seed), spatial_target=True)
        np.testing.assert_allclose(xa[:, 0].reshape(2, 4, 4, 4, 4).mean(dim=(2, 4)), ya, rtol=1e-6)
        seen.add(tuple(xa[0, 0, 0, :2].tolist()))
    assert len(seen) == 8  # all eight symmetries occur
    counts = torch.tensor([[3.0, 5.0], [1.0, 2.0]])
    _, ca = dihedral(x, counts, torch.Generator().manual_seed(0), spatial_target=False)
    assert torch.equal(ca, counts)


def test_random_split_training_set_is_cut_to_the_spatial_size():
    split = {"train": np.arange(100, 300)}
    cut = subsample(split["train"], 50, seed=0)
    assert len(cut) == 50 and np.all(np.diff(cut) > 0) and set(cut) <= set(range(100, 300))
    assert np.array_equal(cut, subsample(split["train"], 50, seed=0))
    assert len(subsample(split["train"], None, 0)) == 200


def test_input_transforms():
    x = np.array([0.0, 1.0, 3.0], np.float32)
    np.testing.assert_allclose(ImageTransform("log1p", 2.0)(x), np.log1p(x))
    np.testing.assert_allclose(ImageTransform("overdensity", 2.0)(x), [-1.0, -0.5, 0.5])


def regression(r, e):
    return {"rmse": e, "pearson_r": r, "slope": 1.0}


def fake_evaluations():
    rel = {"bin_edges": [0, 1], "mean_predicted": [0.5], "mean_target": [0.5], "count": [4], "ece": 0.0}
    scores = lambda auc: {"roc_auc": auc, "average_precision": 0.6, "iou": 0.4, "pearson_r": 0.7,  # noqa: E731
                          "ece": 0.02, "positive_fraction": 0.2, "reliability": rel}
    out = []
    for split, leaky, auc in (("spatial", False, 0.87), ("random", True, 0.93)):
        common = {"split": split, "leaky": leaky, "n_train": 845, "n_test": 169, "training": {"best_epoch": 3}}
        out.append(dict(common, task="map", model=scores(auc),
                        baselines={"underdensity": dict(scores(0.86), sigma_px=4.0)}))
        out.append(dict(common, task="counts", model={"n_voids": regression(0.3, 6.0), "void_volume": regression(0.8, 4e4)},
                        baselines={"training_mean": {"n_voids": regression(None, 7.0), "void_volume": regression(None, 7e4)},
                                   "linear_in_galaxy_count": {"n_voids": regression(0.4, 6.5),
                                                              "void_volume": regression(0.7, 5e4)}}))
    return out


def test_metrics_document_follows_its_schema_and_compares_with_baselines(repo_root, tmp_path):
    doc = merge_evaluations(fake_evaluations(), "spatial")
    jsonschema.validate(doc, load_yaml(repo_root / "src/cosmodl/schemas/voids_metrics.schema.yaml"))
    assert doc["leakage"]["maps"]["roc_auc"] == {"spatial": 0.87, "random": 0.93}
    beats = doc["counts"]["spatial"]["beats_baselines"]
    assert beats["training_mean"]["n_voids"] == {"rmse": True, "pearson_r": True}  # undefined r counts as 0
    assert beats["linear_in_galaxy_count"]["n_voids"] == {"rmse": True, "pearson_r": False}
    assert doc["maps"]["spatial"]["beats_baselines"]["underdensity"]["roc_auc"] is True
    # the kit's verdict: the counts network against the better baseline (the linear fit, RMSE 6.5 / 5e4)
    assert doc["counts"]["spatial"]["beats"]["n_voids"]["best_baseline"] == "linear_in_galaxy_count"
    assert doc["counts"]["spatial"]["beats"]["void_volume"]["models"]["model"] == {"value": 4e4, "beats": True}
    assert doc["maps"]["spatial"]["beats"]["models"]["model"]["beats"] is True
    assert "| counts | spatial | network |" in doc["table"] and "2019 (figure)" in doc["table"]
    write_json(doc, tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and json.loads(text)["counts"]["spatial"]["baselines"]["training_mean"]["n_voids"]["pearson_r"] is None
    broken = merge_evaluations(fake_evaluations(), "spatial")
    del broken["maps"]["spatial"]["model"]["roc_auc"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, load_yaml(repo_root / "src/cosmodl/schemas/voids_metrics.schema.yaml"))


@pytest.mark.parametrize("map_target", ["void_fraction", "void_centres"])
def test_train_and_evaluate_a_map_model_on_either_target(repo_root, tmp_path, map_target):
    from cosmodl.config import validate_config
    from cosmodl.training import remove_finished_checkpoints
    from cosmodl.voids.evaluate import evaluate_void_model
    from cosmodl.voids.learn import train_void_model

    rng = np.random.default_rng(0)
    n = 40
    images = rng.poisson(2.0, (n, 16, 16)).astype(np.float32)
    paths = {}
    for name, arr in (("images", images), ("void_fraction", rng.random((n, 4, 4)).astype(np.float32)),
                      ("void_centres", rng.poisson(0.3, (n, 4, 4)).astype(np.float32))):
        paths[name] = tmp_path / f"{name}.npy"
        np.save(paths[name], arr)
    split = {"method": "spatial", "leaky": False, "train": list(range(24)), "val": list(range(24, 32)),
             "test": list(range(32, 40))}
    (tmp_path / "split.json").write_text(json.dumps(split))
    cfg = validate_config({"voids": {"model": {"decoder_channels": 8, "map_target": map_target},
                                     "train": {"epochs": 3, "batch_size": 8, "device": "cpu"},
                                     "train_overrides": {"map": {"epochs": 1}},  # the map network's own
                                     "evaluation": {"baseline_sigmas": [1]}}},
                          load_yaml(repo_root / "src/cosmodl/schemas/config.schema.yaml"))["voids"]
    summary = train_void_model(cfg, "map", tmp_path / "split.json", paths, None, tmp_path / "m.pt",
                               tmp_path / "h.csv", tmp_path / "ck", threads=1)
    assert summary["n_train"] == 24
    assert len((tmp_path / "h.csv").read_text().splitlines()) == 2  # header + the override's one epoch
    # the final checkpoint stays until the workflow has accepted the outputs, then goes
    assert (tmp_path / "ck" / "checkpoint.pt").exists() and (tmp_path / "ck" / "FINISHED").exists()
    remove_finished_checkpoints(tmp_path)
    assert not (tmp_path / "ck").exists()
    out = evaluate_void_model(cfg, tmp_path / "m.pt", tmp_path / "split.json", paths, None, tmp_path / "e.json",
                              tmp_path / "p.npz", threads=1)
    assert out["truth"] == map_target and out["n_test"] == 8
    pred = np.load(tmp_path / "p.npz")
    assert pred["model"].shape == (8, 4, 4) and 0 <= pred["model"].min() and pred["model"].max() <= 1
    expected = np.load(paths[map_target])[32:40]
    np.testing.assert_allclose(pred["truth"], np.minimum(expected, 1) if map_target == "void_centres" else expected)
