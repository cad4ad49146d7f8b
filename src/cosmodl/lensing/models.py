"""Lensing networks: the anomaly detectors of Reddy et al. (2020) and a supervised ResNet-18.

All take images ``(B, 1, S, S)`` in [0, 1] (per-image min-max) except the ResNet, which takes
any scale and size. The autoencoders take ``S`` = 150 (the original's architecture) or 64
(DeepLenseSim's Models II and III: the same three convolutions and their mirror, with kernel 7,
stride 2 and padding 3, so that 64 -> 32 -> 16 -> 8 and a 64 x 8 x 8 bottleneck; see
:data:`GEOMETRY`). Their ``predict`` is the deterministic reconstruction ``(B, 1, S, S)`` that the
anomaly score (per-image MSE) is computed from:

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

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..models.heads import ImageResNet
from ..models.registry import register_model
from ..training import build_optimizer, build_scheduler

# Per input side: the encoder's convolutions (kernel, stride, padding), the decoder's transposed
# convolutions (kernel, stride, padding, output padding) and the bottleneck's side (64 channels).
# 150: the original (note's table): 150 -> 49 -> 15 -> 9 and back. 64: stride 2, 64 -> 32 -> 16 -> 8 and back.
GEOMETRY = {
    150: {"encoder": ((7, 3, 1), (7, 3, 1), (7, 1, 0)), "decoder": ((7, 1, 0, 0), (7, 3, 1, 2), (6, 3, 1, 2)),
          "bottleneck": 9},
    64: {"encoder": ((7, 2, 3), (7, 2, 3), (7, 2, 3)), "decoder": ((7, 2, 3, 1), (7, 2, 3, 1), (7, 2, 3, 1)),
         "bottleneck": 8},
}
# The decoders' initial output: the mean level of min-max lensing images (about 0.04 for Model A,
# 0.06 for Model II), not PyTorch's default sigmoid(0) = 0.5. From 0.5 the first steps on the mostly
# black images of PyLensing's clean Model A and of DeepLenseSim drove the last pre-activations to
# about -6,000: the sigmoid saturated and the VAE (and at 64 x 64 the AAE) stayed at a constant image
# for good (medium run: MSE 0.0077 on Model A, 0.0186 on Model II, whatever the learning rate).
OUTPUT_LEVEL = 0.05
AUTOENCODER_SIDES = tuple(GEOMETRY)
CHANNELS = (1, 16, 32, 64)


def _geometry(side: int) -> dict:
    if side not in GEOMETRY:
        raise ConfigError(f"lensing autoencoders take images of {' or '.join(map(str, GEOMETRY))} pixels a side, "
                          f"not {side}")
    return GEOMETRY[side]


def flat_size(side: int) -> int:
    """Units of the flattened bottleneck, 64 x b x b: 5184 for 150-pixel images, 4096 for 64."""
    return CHANNELS[-1] * _geometry(side)["bottleneck"] ** 2


def _encoder_convs(final_activation: bool, side: int = 150) -> nn.Sequential:
    """1 x S x S -> 64 x b x b, flattened: three convolutions with ReLU between (and after, if asked).

    S = 150: Conv(1,16,k7,s3,p1) ReLU, Conv(16,32,k7,s3,p1) ReLU, Conv(32,64,k7), as the original.
    """
    layers = []
    for k, (kernel, stride, pad) in enumerate(_geometry(side)["encoder"]):
        layers.append(nn.Conv2d(CHANNELS[k], CHANNELS[k + 1], kernel, stride=stride, padding=pad))
        if k < 2 or final_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, nn.Flatten())


class Decoder(nn.Module):
    """latent -> 1 x S x S in (0, 1): Linear, 64 x b x b, three transposed convolutions, sigmoid.

    S = 150: ConvT(64,32,k7) ReLU, ConvT(32,16,k7,s3,p1,op2) ReLU, ConvT(16,1,k6,s3,p1,op2), as the original
    (whose Tanh is a sigmoid here: the data are in [0, 1]). The last layer's bias starts at the
    images' mean level (:data:`OUTPUT_LEVEL`).
    """

    def __init__(self, latent: int, side: int = 150):
        super().__init__()
        geometry = _geometry(side)
        self.bottleneck = (CHANNELS[-1], geometry["bottleneck"], geometry["bottleneck"])
        self.linear = nn.Linear(latent, flat_size(side))
        layers = []
        for k, (kernel, stride, pad, out_pad) in enumerate(geometry["decoder"]):
            layers.append(nn.ConvTranspose2d(CHANNELS[3 - k], CHANNELS[2 - k], kernel, stride=stride, padding=pad,
                                             output_padding=out_pad))
            layers.append(nn.ReLU() if k < 2 else nn.Sigmoid())
        self.deconv = nn.Sequential(*layers)
        with torch.no_grad():
            self.deconv[-2].bias.fill_(math.log(OUTPUT_LEVEL / (1 - OUTPUT_LEVEL)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.linear(z).view(-1, *self.bottleneck))


def _check_latent(latent: int) -> None:
    if int(latent) < 1:
        raise ConfigError(f"lensing.model.latent = {latent}: must be a positive number of units")


class DCAE(nn.Module):
    """Deep convolutional autoencoder (encoder ends Linear(5184, latent) + BatchNorm1d)."""

    def __init__(self, latent: int = 1000, side: int = 150):
        super().__init__()
        _check_latent(latent)
        self.encoder = nn.Sequential(_encoder_convs(final_activation=False, side=side),
                                     nn.Linear(flat_size(side), latent), nn.BatchNorm1d(latent))
        self.decoder = Decoder(latent, side)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


class VAE(nn.Module):
    """Variational autoencoder; ``forward`` returns (reconstruction, mu, logvar).

    In training mode z = mu + eps * exp(logvar / 2); in eval mode z = mu, so scores are
    deterministic (the original sampled z at evaluation).
    """

    def __init__(self, latent: int = 1000, beta: float = 1e-6, side: int = 150):
        super().__init__()
        _check_latent(latent)
        if beta < 0:
            raise ConfigError(f"lensing.model.beta = {beta}: must be >= 0")
        self.beta = float(beta)
        self.encoder = _encoder_convs(final_activation=True, side=side)
        self.mu = nn.Linear(flat_size(side), latent)
        self.logvar = nn.Linear(flat_size(side), latent)
        self.decoder = Decoder(latent, side)

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

    def __init__(self, latent: int = 1000, prior_std: float = 5.0, regularisation_lr: float = 1e-4, side: int = 150):
        super().__init__()
        _check_latent(latent)
        if prior_std <= 0 or regularisation_lr <= 0:
            raise ConfigError(f"lensing.model.prior_std = {prior_std} and regularisation_lr = {regularisation_lr}: "
                              "both must be > 0")
        self.prior_std, self.regularisation_lr = float(prior_std), float(regularisation_lr)
        self.encoder = nn.Sequential(_encoder_convs(final_activation=True, side=side),
                                     nn.Linear(flat_size(side), latent))
        self.decoder = Decoder(latent, side)
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

    def __init__(self, visible: int = 150 * 150, hidden: int = 1000, cd_steps: int = 1, init_std: float = 0.01):
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
    return DCAE(cfg.get("latent", 1000), cfg.get("side", 150))


@register_model("lensing_vae")
def _build_vae(cfg: dict) -> nn.Module:
    return VAE(cfg.get("latent", 1000), cfg.get("beta", 1e-6), cfg.get("side", 150))


@register_model("lensing_aae")
def _build_aae(cfg: dict) -> nn.Module:
    return AAE(cfg.get("latent", 1000), cfg.get("prior_std", 5.0), cfg.get("regularisation_lr", 1e-4),
               cfg.get("side", 150))


@register_model("lensing_rbm")
def _build_rbm(cfg: dict) -> nn.Module:
    side = cfg.get("side", 150)
    return RBM(side * side, cfg.get("latent", 1000), cfg.get("cd_steps", 1), cfg.get("rbm_init_std", 0.01))


@register_model("lensing_resnet")
def _build_resnet(cfg: dict) -> nn.Module:
    return ImageResNet(3, cfg.get("resnet_downsample", 1))
