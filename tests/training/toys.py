"""Toy stand-ins for the stages to come, registered in the model registry (tests only).

* ``toy_classifier``: images → class logits, integer targets (cm21 redshift classes).
* ``toy_vae``: an autoencoder whose forward returns a tuple (lensing VAE).
* ``toy_adversarial``: three optimisers per batch, its own step (lensing AAE).
* ``toy_rbm``: gradients set by hand (contrastive divergence, lensing RBM).
* ``toy_spectra``: a 1-D convolutional classifier of (B, 1, L) spectra (specz), fed by a
  :class:`~cosmodl.training.GeneratedDataset`.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cosmodl.models import register_model
from cosmodl.training import GeneratedDataset, build_optimizer, build_scheduler

SIDE, LENGTH, N_CLASSES = 8, 32, 4


class ToyClassifier(nn.Module):
    def __init__(self, n_classes=N_CLASSES):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(24, n_classes))

    def forward(self, x):
        return self.net(x)


class ToyVAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 32), nn.ReLU())
        self.mu, self.logvar = nn.Linear(32, latent), nn.Linear(32, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, SIDE * SIDE), nn.Unflatten(1, (1, SIDE, SIDE)))

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar


def vae_loss(output, target, beta=0.1):
    """Mean squared error per pixel plus beta times the KL divergence per latent dimension (both means)."""
    recon, mu, logvar = output
    kl = -0.5 * torch.mean(1 + logvar - mu**2 - logvar.exp())
    return F.mse_loss(recon, target) + beta * kl


class ToyAdversarial(nn.Module):
    """An adversarial autoencoder: reconstruction, then discriminator, then generator, each its own optimiser."""

    def __init__(self, latent=4):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 16), nn.ReLU(), nn.Linear(16, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, SIDE * SIDE), nn.Unflatten(1, (1, SIDE, SIDE)))
        self.discriminator = nn.Sequential(nn.Linear(latent, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def configure_optimizers(self, cfg, total_steps):
        ae = build_optimizer("adam", list(self.encoder.parameters()) + list(self.decoder.parameters()), cfg)
        return {"autoencoder": (ae, build_scheduler(cfg.scheduler, ae, cfg, total_steps)),
                "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr),
                "generator": torch.optim.Adam(self.encoder.parameters(), lr=cfg.lr / 10)}

    def training_step(self, batch, ctx, optimizers):
        x, _ = ctx.to_device(batch)
        x, _ = ctx.augment(x, x)
        with ctx.autocast():
            recon = self(x)
        loss = F.mse_loss(recon.float(), x)
        ctx.optimizer_step(loss, optimizers["autoencoder"])
        z = self.encoder(x).detach()
        prior = ctx.randn(len(x), z.shape[1]) * 5  # N(0, 5^2 I), the same draws in 1 or N processes
        eps = 1e-15
        d_loss = -torch.mean(torch.log(self.discriminator(prior) + eps) + torch.log(1 - self.discriminator(z) + eps))
        ctx.optimizer_step(d_loss, optimizers["discriminator"])
        g_loss = -torch.mean(torch.log(self.discriminator(self.encoder(x)) + eps))
        ctx.optimizer_step(g_loss, optimizers["generator"])
        return {"loss": loss.detach(), "d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def validation_step(self, batch, ctx):
        x, _ = ctx.to_device(batch)
        return {"loss": F.mse_loss(self(x).float(), x)}


class ToyRBM(nn.Module):
    """A Bernoulli RBM trained by one step of contrastive divergence, its gradients set by hand."""

    def __init__(self, hidden=16):
        super().__init__()
        self.W = nn.Parameter(torch.randn(hidden, SIDE * SIDE) * 0.01)
        self.b_h = nn.Parameter(torch.zeros(hidden))
        self.b_v = nn.Parameter(torch.zeros(SIDE * SIDE))

    def forward(self, x):
        """Mean-field reconstruction p(v | h = p(h | v)), shaped like x."""
        v = x.flatten(1)
        h = torch.sigmoid(v @ self.W.T + self.b_h)
        return torch.sigmoid(h @ self.W + self.b_v).view_as(x)

    def training_step(self, batch, ctx, optimizers):
        x, _ = ctx.to_device(batch)
        v0 = x.flatten(1)
        with torch.no_grad():
            p_h0 = torch.sigmoid(v0 @ self.W.T + self.b_h)
            h0 = torch.bernoulli(p_h0)
            v1 = torch.sigmoid(h0 @ self.W + self.b_v)
            p_h1 = torch.sigmoid(v1 @ self.W.T + self.b_h)
            n = len(v0)
            self.W.grad = -(p_h0.T @ v0 - p_h1.T @ v1) / n
            self.b_h.grad = -(p_h0 - p_h1).mean(0)
            self.b_v.grad = -(v0 - v1).mean(0)
        ctx.step(optimizers["main"])
        return {"loss": F.mse_loss(v1, v0)}

    def validation_step(self, batch, ctx):
        x, _ = ctx.to_device(batch)
        return {"loss": F.mse_loss(self(x), x)}


class ToySpectra(nn.Module):
    def __init__(self, n_classes=N_CLASSES):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(1, 6, 5, padding=2), nn.BatchNorm1d(6), nn.ReLU(), nn.MaxPool1d(4),
                                 nn.Flatten(), nn.Linear(6 * LENGTH // 4, n_classes))

    def forward(self, x):
        return self.net(x)


class ToySpectraData(GeneratedDataset):
    """A Gaussian line at a class-dependent position on a noisy continuum; input[0] records the position."""

    def __init__(self, n_samples, seed=0, stream=0, fixed=False):
        super().__init__(n_samples, seed, stream, fixed, target_dtype=np.int64)

    def sample(self, rng):
        label = int(rng.integers(N_CLASSES))
        pixels = np.arange(LENGTH)
        centre = 4 + label * (LENGTH - 8) / (N_CLASSES - 1)
        flux = np.exp(-0.5 * ((pixels - centre) / 1.5) ** 2) + 0.1 * rng.standard_normal(LENGTH)
        return flux.astype(np.float32), label


for _name, _cls in (("toy_classifier", ToyClassifier), ("toy_vae", ToyVAE), ("toy_adversarial", ToyAdversarial),
                    ("toy_rbm", ToyRBM), ("toy_spectra", ToySpectra)):
    register_model(_name)(lambda cfg, _cls=_cls: _cls(**cfg))


def image_data(n=48, seed=0):
    """Images (n, 8, 8) in [0, 1] whose class (0..3) is the quadrant holding a bright blob."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_CLASSES, n)
    images = rng.random((n, SIDE, SIDE)).astype(np.float32) * 0.3
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 2)
        images[i, r * 4:r * 4 + 4, c * 4:c * 4 + 4] += 0.7
    return images, labels.astype(np.int64)


def train_job(out: str, epochs: int = 2, pause: float = 0.0, threads=None):
    """A stage-like training function for the launcher: trains the toy classifier, rank 0 writes ``out``."""
    import time
    from pathlib import Path

    from cosmodl.training import ArrayDataset, TrainConfig, fit, is_main_process

    images, labels = image_data()
    torch.manual_seed(0)
    model = ToyClassifier()

    def loss_fn(output, target):
        if pause:
            Path(out + ".started").touch()
            time.sleep(pause)
        return F.cross_entropy(output, target)

    fit(model, ArrayDataset(images, labels, np.arange(32), target_dtype=np.int64),
        ArrayDataset(images, labels, np.arange(32, 48), target_dtype=np.int64),
        TrainConfig(epochs=epochs, batch_size=8, seed=1, augment=False), out + "_work", out + "_history.csv",
        loss_fn=loss_fn, data_fingerprint="toy", threads=threads)
    if is_main_process():
        with open(out, "a") as f:
            f.write(f"written by rank 0 with {threads} threads\n")
