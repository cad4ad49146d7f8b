"""The lensing networks: sizes from the note's architecture table, deterministic scoring, fixed bugs."""

import pytest
import torch

from cosmodl.models import build_model
from cosmodl.lensing.models import RBM, VAE

# Parameter counts added up by hand from the note's table (lensing.md section 3), weights + biases.
ENCODER_CONVS = (1 * 16 * 49 + 16) + (16 * 32 * 49 + 32) + (32 * 64 * 49 + 64)
DECODER = (1000 * 5184 + 5184) + (64 * 32 * 49 + 32) + (32 * 16 * 49 + 16) + (16 * 1 * 36 + 1)
EXPECTED = {
    "lensing_dcae": ENCODER_CONVS + (5184 * 1000 + 1000) + 2 * 1000 + DECODER,  # + BatchNorm1d
    "lensing_vae": ENCODER_CONVS + 2 * (5184 * 1000 + 1000) + DECODER,
    "lensing_aae": ENCODER_CONVS + (5184 * 1000 + 1000) + DECODER
    + (1000 * 256 + 256) + (256 * 256 + 256) + (256 + 1),
    "lensing_rbm": 1000 * 22500 + 1000 + 22500,
    # torchvision ResNet-18: 11,689,512 with a 3-channel stem and 1000 classes
    "lensing_resnet": 11_689_512 - 64 * 2 * 49 - (512 * 1000 + 1000) + (512 * 3 + 3),
}
NAMES = sorted(EXPECTED)

# 64 x 64 inputs (DeepLenseSim Models II, III): the same three convolutions of kernel 7, stride 2 and
# padding 3 (64 -> 32 -> 16 -> 8) and their mirror, a 64 x 8 x 8 = 4096 bottleneck
ENCODER_64 = ENCODER_CONVS
DECODER_64 = (1000 * 4096 + 4096) + (64 * 32 * 49 + 32) + (32 * 16 * 49 + 16) + (16 * 1 * 49 + 1)
EXPECTED_64 = {
    "lensing_dcae": ENCODER_64 + (4096 * 1000 + 1000) + 2 * 1000 + DECODER_64,
    "lensing_vae": ENCODER_64 + 2 * (4096 * 1000 + 1000) + DECODER_64,
    "lensing_aae": ENCODER_64 + (4096 * 1000 + 1000) + DECODER_64 + (1000 * 256 + 256) + (256 * 256 + 256) + (256 + 1),
    "lensing_rbm": 1000 * 4096 + 1000 + 4096,
}


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_matches_the_architecture_table(name):
    model = build_model(name, {})
    assert sum(p.numel() for p in model.parameters()) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_64))
def test_64_pixel_autoencoders_reconstruct_64_pixel_images(name):
    model = build_model(name, {"side": 64})
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_64[name]
    model.eval()
    with torch.no_grad():
        assert model.predict(torch.rand(2, 1, 64, 64)).shape == (2, 1, 64, 64)


def test_an_input_size_without_an_architecture_is_one_clear_error():
    with pytest.raises(ValueError, match="150 or 64 pixels a side, not 100"):
        build_model("lensing_dcae", {"side": 100})


@pytest.mark.parametrize("name", NAMES)
def test_eval_scoring_is_deterministic_and_autoencoders_stay_in_unit_range(name):
    torch.manual_seed(0)
    model = build_model(name, {})
    x = torch.rand(3, 1, 150, 150)
    model.train()
    out = model(x)  # a training-mode pass moves BatchNorm statistics, as in training
    model.eval()
    with torch.no_grad():
        a, b = model.predict(x), model.predict(x)
    assert torch.equal(a, b)
    if name == "lensing_resnet":
        assert a.shape == (3, 3) and torch.allclose(a.sum(1), torch.ones(3))
    else:
        assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1  # sigmoid decoders, not Tanh
    del out


def test_vae_scores_on_the_mean_and_samples_only_in_training():
    torch.manual_seed(0)
    vae = VAE(latent=1000, beta=1.0)
    x = torch.rand(2, 1, 150, 150)
    vae.train()
    r1, r2 = vae(x)[0], vae(x)[0]
    assert not torch.equal(r1, r2)
    vae.eval()
    with torch.no_grad():
        recon, mu, _ = vae(x)
        assert torch.equal(recon, vae.decoder(mu))


def test_vae_loss_puts_kl_per_latent_dimension_beside_mse_per_pixel():
    vae = VAE(latent=4, beta=0.5)
    target = torch.zeros(2, 1, 150, 150)
    recon = torch.full_like(target, 0.1)
    mu, logvar = torch.ones(2, 4), torch.zeros(2, 4)
    # MSE 0.01; KL per dimension -0.5 (1 + 0 - 1 - 1) = 0.5
    assert vae.loss((recon, mu, logvar), target).item() == pytest.approx(0.01 + 0.5 * 0.5)


def test_rbm_contrastive_divergence_gradient_is_the_textbook_one():
    torch.manual_seed(0)
    rbm = RBM(visible=30, hidden=7, cd_steps=1, init_std=0.1)
    v0 = torch.rand(5, 30)
    vk = rbm.gibbs_chain(v0, torch.Generator().manual_seed(1))
    gap = rbm.free_energy(v0).mean() - rbm.free_energy(vk).mean()
    gap.backward()
    with torch.no_grad():
        p0, pk = rbm.hidden_probability(v0), rbm.hidden_probability(vk)
        grad_w = -(p0.T @ v0 - pk.T @ vk) / 5
    torch.testing.assert_close(rbm.W.grad, grad_w)
    torch.testing.assert_close(rbm.b_v.grad, -(v0 - vk).mean(0))


def test_rbm_reconstruction_is_the_mean_field_not_a_binary_sample():
    rbm = build_model("lensing_rbm", {})
    rbm.eval()
    x = torch.rand(2, 1, 150, 150)
    with torch.no_grad():
        recon = rbm.predict(x)
    assert not torch.all((recon == 0) | (recon == 1))
    expected = torch.sigmoid(torch.sigmoid(x.flatten(1) @ rbm.W.T + rbm.b_h) @ rbm.W + rbm.b_v)
    torch.testing.assert_close(recon.flatten(1), expected)


def test_bad_architecture_settings_are_errors():
    with pytest.raises(ValueError, match="beta"):
        build_model("lensing_vae", {"beta": -1})
    with pytest.raises(ValueError, match="cd_steps"):
        build_model("lensing_rbm", {"cd_steps": 0})
    with pytest.raises(ValueError, match="latent"):
        build_model("lensing_dcae", {"latent": 0})


@pytest.mark.parametrize("side", [64, 150])
@pytest.mark.parametrize("name", ["lensing_vae", "lensing_aae"])
def test_decoders_learn_dark_ring_images_instead_of_saturating(name, side):
    """Clean lensing images are a thin ring on black. From PyTorch's default output level (0.5) the VAE's
    sigmoid saturated within an epoch and stayed at a constant image (the AAE's too at 64 x 64); the
    decoders now start at the images' mean level and learn."""
    from cosmodl.training import StepContext, TrainConfig
    from cosmodl.training.distributed import Distributed
    from cosmodl.training.trainer import _optimizers, has_custom_step, supervised_step

    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(float(side)), torch.arange(float(side)), indexing="ij")
    radius = side * (0.2 + 0.15 * torch.rand(32, 1, 1))
    rings = torch.exp(-((torch.hypot(xx - side / 2, yy - side / 2) - radius) ** 2) / 4)[:, None]  # (32, 1, S, S)
    model = build_model(name, {"side": side, "latent": 32})
    cfg = TrainConfig(batch_size=8, optimizer="adam", lr=2e-3, weight_decay=0.0, scheduler="constant", augment=False)
    ctx = StepContext(torch.device("cpu"), cfg, Distributed("cpu"))
    optimizers, _ = _optimizers(model, cfg, total_steps=60)
    model.train()
    for step in range(60):
        batch = rings[8 * (step % 4):8 * (step % 4 + 1)]
        ctx.start_batch(0, step)
        if has_custom_step(model):
            model.training_step((batch, batch), ctx, optimizers)
        else:
            supervised_step(model, (batch, batch), ctx, optimizers, model.loss)
    model.eval()
    with torch.no_grad():
        recon = model.predict(rings)
    black = (rings**2).mean()  # the saturated decoder's error
    assert torch.mean((recon - rings) ** 2) < 0.9 * black and recon.std() > 1e-3  # not a constant image
