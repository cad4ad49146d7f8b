import pytest
import torch
import torchvision

from cosmodl.errors import ConfigError
from cosmodl.models import build_resnet_encoder
from cosmodl.voids.models import VoidCountNet, VoidMapNet


@pytest.mark.parametrize("side, arch", [(224, "resnet18"), (64, "resnet18"), (64, "resnet50"), (24, "resnet34")])
def test_map_head_gives_one_logit_per_map_pixel_at_a_quarter_resolution(side, arch):
    model = VoidMapNet(arch, decoder_channels=16).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, side, side))
    assert out.shape == (2, 1, side // 4, side // 4)


def test_map_output_depends_on_far_away_pixels():
    """The receptive field covers the subbox: a change in one corner moves the opposite corner's logit."""
    torch.manual_seed(0)
    model = VoidMapNet("resnet18", decoder_channels=16).eval()
    x = torch.randn(1, 1, 128, 128)
    y = x.clone()
    y[..., :8, :8] += 5.0
    with torch.no_grad():
        assert not torch.allclose(model(x)[..., -1, -1], model(y)[..., -1, -1])


def test_counts_head_and_target_scaling_round_trip():
    model = VoidCountNet("resnet18").eval()
    model.set_target_scaling([240.0, 1e5], [12.0, 0.0])  # zero std becomes 1
    assert model(torch.randn(3, 1, 64, 64)).shape == (3, 2)
    target = torch.tensor([[252.0, 1e5 + 3.0]])
    assert torch.allclose(model.standardise(target), torch.tensor([[1.0, 3.0]]))
    state = model.state_dict()
    assert torch.equal(state["target_mean"], torch.tensor([240.0, 1e5]))  # saved with the model


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="pretrained_weights: file .*nope.pth does not exist"):
        build_resnet_encoder("resnet18", str(tmp_path / "nope.pth"))


def test_local_torchvision_weights_are_loaded_and_summed_to_one_channel(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    encoder = build_resnet_encoder("resnet18", str(path))
    assert encoder.conv1.weight.shape == (64, 1, 7, 7)
    assert torch.allclose(encoder.conv1.weight, reference.conv1.weight.sum(dim=1, keepdim=True))
    assert torch.equal(encoder.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "resnet50.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    with pytest.raises(ConfigError, match="does not match"):
        build_resnet_encoder("resnet18", str(path))
