"""The 21-cm networks: the seed's parameter counts, frozen encoder, predictions in task units."""

import pytest
import torch

from cosmodl.cm21.models import Autoencoder21, EncodedCNN, PatchFC, SliceCNN
from cosmodl.models import build_model
from cosmodl.records import predict


def count(module, trainable_only=False):
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def test_parameter_counts_are_the_notes():
    ae = Autoencoder21()
    assert count(ae) == 4385 and count(ae.encoder) == 1904
    assert EncodedCNN(200, 17).head_parameters() == 4521
    assert EncodedCNN(200, 12).head_parameters() == 3876
    assert count(SliceCNN(200, 12)) == 56_900
    assert count(PatchFC(50, 17)) == 881_317


def test_encoded_cnn_keeps_the_trained_encoder_frozen():
    torch.manual_seed(0)
    ae = Autoencoder21()
    net = EncodedCNN(80, 5)
    net.load_encoder(ae)
    before = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1.0)
    loss = net(torch.rand(4, 1, 80, 80)).sum()
    loss.backward()
    opt.step()
    for k, v in net.encoder.state_dict().items():
        assert torch.equal(v, before[k]) and torch.equal(v, ae.encoder.state_dict()[k])


def test_slices_too_small_for_the_heads_are_a_clear_error():
    with pytest.raises(ValueError, match="at least 80 cells"):
        EncodedCNN(64, 5)
    with pytest.raises(ValueError, match="divisible by 8"):
        Autoencoder21()(torch.rand(1, 1, 60, 60))


def test_regression_predicts_in_the_targets_units_and_scoring_is_deterministic():
    torch.manual_seed(0)
    net = build_model("cm21_cnn", {"slice_side": 80, "kind": "regression", "target_mean": 25.0, "target_std": 4.0})
    x = torch.rand(3, 80, 80).numpy()
    raw = net(torch.from_numpy(x).unsqueeze(1)).detach().squeeze(1)
    out = predict(net, x)
    assert out.shape == (3,)
    torch.testing.assert_close(torch.from_numpy(out), 25.0 + 4.0 * raw)
    assert (predict(net, x) == out).all()
    assert set(net.state_dict()) >= {"output.target_mean", "output.target_std"}
    probs = predict(build_model("cm21_ae_cnn", {"slice_side": 80, "n_classes": 4}), x)
    torch.testing.assert_close(torch.from_numpy(probs.sum(axis=1)), torch.ones(3))
