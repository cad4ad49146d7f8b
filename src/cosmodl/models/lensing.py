"""Lensing networks: the anomaly detectors of Reddy et al. (2020) and a supervised ResNet-18.

All take images ``(B, 1, 150, 150)`` in [0, 1] (per-image min-max) except the ResNet, which
takes any scale. The autoencoders' ``predict`` is the deterministic reconstruction
``(B, 1, 150, 150)`` that the anomaly score (per-image MSE) is computed from:

* :class:`DCAE` - convolutional autoencoder, 1000-d latent with BatchNorm1d;
* :class:`VAE` - the same encoder with (mu, log sigma^2) heads; scored on the decoding of mu;
* :class:`AAE` - adversarial autoencoder with a Gaussian prior on the latent and a
  discriminator; three optimisation steps per batch (:meth:`AAE.training_step`);
* :class:`RBM` - Bernoulli-hidden restricted Boltzmann machine trained by CD-k on continuous
  visible units; scored with the mean-field reconstruction;
* the supervised classifier is the kit's :class:`~cosmodl.models.heads.ImageResNet` (ResNet-18,
  1-channel stem) with 3 classes.

Architectures follow the note's table (kernel 7 stride 3 convolutions, 64 x 9 x 9 bottleneck),
with the original's bugs fixed: decoders end in a sigmoid (the data are in [0, 1], not Tanh's
[-1, 1]); the VAE's KL is a mean per latent dimension beside a mean per-pixel MSE (the original
summed the KL and set beta = 0 by default); the RBM's weights start small (std 0.01, not 1) and
its reconstruction is the mean field, not a binary sample.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..training import build_optimizer, build_scheduler
from .heads import ImageResNet
from .registry import register_model

SIDE = 150
BOTTLENECK = (64, 9, 9)
FLAT = 64 * 9 * 9  # 5184


def _encoder_convs(final_activation: bool) -> nn.Sequential:
    """1x150x150 -> 64x9x9: Conv(1,16,k7,s3,p1) ReLU, Conv(16,32,k7,s3,p1) ReLU, Conv(32,64,k7)."""
    layers = [nn.Conv2d(1, 16, 7, stride=3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 7, stride=3, padding=1),
              nn.ReLU(), nn.Conv2d(32, 64, 7)]
    if final_activation:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers, nn.Flatten())


class Decoder(nn.Module):
    """latent -> 1x150x150 in (0, 1): Linear, 64x9x9, ConvT(64,32,k7) ReLU, ConvT(32,16,k7,s3,p1,op2) ReLU,
    ConvT(16,1,k6,s3,p1,op2), sigmoid."""

    def __init__(self, latent: int):
        super().__init__()
        self.linear = nn.Linear(latent, FLAT)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 7), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 7, stride=3, padding=1, output_padding=2), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 6, stride=3, padding=1, output_padding=2), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.linear(z).view(-1, *BOTTLENECK))


def _check_latent(latent: int) -> None:
    if int(latent) < 1:
        raise ConfigError(f"lensing.model.latent = {latent}: must be a positive number of units")


class DCAE(nn.Module):
    """Deep convolutional autoencoder (encoder ends Linear(5184, latent) + BatchNorm1d)."""

    def __init__(self, latent: int = 1000):
        super().__init__()
        _check_latent(latent)
        self.encoder = nn.Sequential(_encoder_convs(final_activation=False), nn.Linear(FLAT, latent),
                                     nn.BatchNorm1d(latent))
        self.decoder = Decoder(latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


class VAE(nn.Module):
    """Variational autoencoder; ``forward`` returns (reconstruction, mu, logvar).

    In training mode z = mu + eps * exp(logvar / 2); in eval mode z = mu, so scores are
    deterministic (the original sampled z at evaluation).
    """

    def __init__(self, latent: int = 1000, beta: float = 5e-5):
        super().__init__()
        _check_latent(latent)
        if beta < 0:
            raise ConfigError(f"lensing.model.beta = {beta}: must be >= 0")
        self.beta = float(beta)
        self.encoder = _encoder_convs(final_activation=True)
        self.mu = nn.Linear(FLAT, latent)
        self.logvar = nn.Linear(FLAT, latent)
        self.decoder = Decoder(latent)

    def forward(self, x: torch.Tensor):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.mu(self.encoder(x)))

    def loss(self, output, target: torch.Tensor) -> torch.Tensor:
        """MSE per pixel + beta * KL(q(z|x) || N(0, I)) per latent dimension, both batch means."""
        recon, mu, logvar = output
        kl = -0.5 * torch.mean(1 + logvar - mu**2 - logvar.exp())
        return F.mse_loss(recon, target) + self.beta * kl


class AAE(nn.Module):
    """Adversarial autoencoder: encoder (ReLU convs, Linear to latent), decoder, discriminator.

    The discriminator (latent -> 256 -> 256 -> 1, sigmoid) tells prior draws N(0, prior_std^2 I)
    from encodings; each batch takes three steps (:meth:`training_step`).
    """

    def __init__(self, latent: int = 1000, prior_std: float = 5.0, regularisation_lr: float = 1e-4):
        super().__init__()
        _check_latent(latent)
        if prior_std <= 0 or regularisation_lr <= 0:
            raise ConfigError(f"lensing.model.prior_std = {prior_std} and regularisation_lr = {regularisation_lr}: "
                              "both must be > 0")
        self.prior_std, self.regularisation_lr = float(prior_std), float(regularisation_lr)
        self.encoder = nn.Sequential(_encoder_convs(final_activation=True), nn.Linear(FLAT, latent))
        self.decoder = Decoder(latent)
        self.discriminator = nn.Sequential(nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                           nn.Linear(256, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    def configure_optimizers(self, cfg, total_steps: int) -> dict:
        """Optimisers: autoencoder (train.optimizer, lr, schedule), discriminator (Adam, lr), generator
        (Adam, regularisation_lr)."""
        ae = build_optimizer(cfg.optimizer, [*self.encoder.parameters(), *self.decoder.parameters()], cfg)
        return {"autoencoder": (ae, build_scheduler(cfg.scheduler, ae, cfg, total_steps)),
                "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr),
                "generator": torch.optim.Adam(self.encoder.parameters(), lr=self.regularisation_lr)}

    def training_step(self, batch, ctx, optimizers) -> dict:
        """(1) reconstruction MSE -> encoder + decoder; (2) discriminator loss; (3) generator loss -> encoder."""
        x, _ = ctx.to_device(batch)
        x, _ = ctx.augment(x, x)
        with ctx.autocast():
            recon = self(ctx.layout(x))
        loss = F.mse_loss(recon.float(), x)
        ctx.optimizer_step(loss, optimizers["autoencoder"])
        eps = 1e-15
        z = self.encoder(x).float().detach()
        prior = ctx.randn(len(x), z.shape[1]) * self.prior_std
        d_loss = -torch.mean(torch.log(self.discriminator(prior) + eps) + torch.log(1 - self.discriminator(z) + eps))
        ctx.optimizer_step(d_loss, optimizers["discriminator"])
        g_loss = -torch.mean(torch.log(self.discriminator(self.encoder(x).float()) + eps))
        ctx.optimizer_step(g_loss, optimizers["generator"])
        return {"loss": loss.detach(), "d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def validation_step(self, batch, ctx) -> dict:
        x, _ = ctx.to_device(batch)
        with ctx.autocast():
            recon = self(ctx.layout(x))
        return {"loss": F.mse_loss(recon.float(), x)}


class RBM(nn.Module):
    """Restricted Boltzmann machine: continuous visible units in [0, 1] (flattened image), Bernoulli hidden.

    p(h | v) = sigmoid(W v + b_h), E[v | h] = sigmoid(W^T h + b_v). Trained by CD-k on the free
    energy F(v) = -v . b_v - sum softplus(W v + b_h); ``forward`` is the mean-field reconstruction
    sigmoid(W^T sigmoid(W v + b_h) + b_v), the score's input.
    """

    def __init__(self, visible: int = SIDE * SIDE, hidden: int = 1000, cd_steps: int = 1, init_std: float = 0.01):
        super().__init__()
        _check_latent(hidden)
        if cd_steps < 1 or init_std <= 0:
            raise ConfigError(f"lensing.model.cd_steps = {cd_steps} and rbm_init_std = {init_std}: "
                              "need cd_steps >= 1 and init_std > 0")
        self.cd_steps = int(cd_steps)
        self.W = nn.Parameter(torch.randn(hidden, visible) * init_std)
        self.b_h = nn.Parameter(torch.zeros(hidden))
        self.b_v = nn.Parameter(torch.zeros(visible))

    def hidden_probability(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(F.linear(v, self.W, self.b_h))

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(h @ self.W + self.b_v)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) per sample, (B,)."""
        return -(v @ self.b_v) - F.softplus(F.linear(v, self.W, self.b_h)).sum(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.flatten(1)
        return self.visible_mean(self.hidden_probability(v)).view_as(x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    def gibbs_chain(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """k steps v -> h ~ p(h|v) -> v = E[v|h], without gradients (visible means stay continuous).

        ``generator`` draws the hidden samples (on the CPU); None uses torch's global generator.
        """
        with torch.no_grad():
            for _ in range(self.cd_steps):
                p_h = self.hidden_probability(v)
                h = (torch.rand(p_h.shape, generator=generator).to(p_h.device) < p_h).to(v.dtype)
                v = self.visible_mean(h)
        return v

    def training_step(self, batch, ctx, optimizers) -> dict:
        """Contrastive divergence: minimise mean F(v_data) - mean F(v_model) with the chain's end fixed."""
        x, _ = ctx.to_device(batch)
        v0 = x.flatten(1).float()
        vk = self.gibbs_chain(v0, None)  # the global generator, seeded per batch and process by the trainer
        gap = self.free_energy(v0).mean() - self.free_energy(vk).mean()
        ctx.optimizer_step(gap, optimizers["main"])
        with torch.no_grad():
            loss = F.mse_loss(self.visible_mean(self.hidden_probability(v0)), v0)
        return {"loss": loss, "free_energy_gap": gap.detach()}

    def validation_step(self, batch, ctx) -> dict:
        x, _ = ctx.to_device(batch)
        return {"loss": F.mse_loss(self(x.float()), x.float())}


@register_model("lensing_dcae")
def _build_dcae(cfg: dict) -> nn.Module:
    return DCAE(cfg.get("latent", 1000))


@register_model("lensing_vae")
def _build_vae(cfg: dict) -> nn.Module:
    return VAE(cfg.get("latent", 1000), cfg.get("beta", 5e-5))


@register_model("lensing_aae")
def _build_aae(cfg: dict) -> nn.Module:
    return AAE(cfg.get("latent", 1000), cfg.get("prior_std", 5.0), cfg.get("regularisation_lr", 1e-4))


@register_model("lensing_rbm")
def _build_rbm(cfg: dict) -> nn.Module:
    return RBM(SIDE * SIDE, cfg.get("latent", 1000), cfg.get("cd_steps", 1), cfg.get("rbm_init_std", 0.01))


@register_model("lensing_resnet")
def _build_resnet(cfg: dict) -> nn.Module:
    return ImageResNet(3, cfg.get("resnet_downsample", 1))
