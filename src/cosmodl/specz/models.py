"""1-D CNN redshift classifiers of the specz stage (seed 004; note specz.md section 3).

:class:`SpectrumCNN` with ``blocks=3`` is the authors' ADAX datathon network, the only verified
architecture of Stivaktakis et al.: three blocks of (Conv1D 16 filters of width 8, 'same', ReLU;
max-pool 3 with stride 2, 'same'; batch norm), flatten (223 x 16 = 3568 for 1780 pixels), dropout
0.5, dense 512 (linear), dropout 0.5, dense 800 (softmax in ``predict``): 2,242,192 parameters as
Keras counts them (batch norm's running mean and variance included; 2,242,096 trainable here).
``blocks=1`` is the paper's shallow variant with the same layers (one block: 890 x 16 = 14,240
features into the dense layer). The original's L2 penalty of 0.2 on the dense-512 kernel is left
to the trainer's ``weight_decay``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..models.heads import TaskOutput
from ..models.registry import register_model


def pooled_length(n: int, blocks: int) -> int:
    """Samples left after ``blocks`` max-pools of width 3, stride 2, 'same' padding: ceil(n / 2) each."""
    for _ in range(blocks):
        n = (n + 1) // 2
    return n


class SpectrumCNN(nn.Module):
    """1-D CNN over a spectrum (B, 1, n_pixels) -> logits (B, n_classes) (module docstring).

    Parameters
    ----------
    n_pixels : int
    n_classes : int
    blocks : int
        Convolutional blocks (1 or 3 in the paper).
    channels, kernel : int
        Filters and width of each convolution.
    hidden : int
        Units of the dense layer before the output.
    dropout : float
    """

    def __init__(self, n_pixels: int = 1780, n_classes: int = 800, blocks: int = 3, channels: int = 16,
                 kernel: int = 8, hidden: int = 512, dropout: float = 0.5):
        super().__init__()
        if blocks < 1 or pooled_length(n_pixels, blocks) < 1:
            raise ConfigError(f"SpectrumCNN: {blocks} blocks over {n_pixels} pixels; need blocks >= 1")
        layers, c_in = [], 1
        for _ in range(blocks):
            # Keras 'same': (k - 1) // 2 zeros before, the rest after
            layers += [nn.ConstantPad1d(((kernel - 1) // 2, kernel // 2), 0.0), nn.Conv1d(c_in, channels, kernel),
                       nn.ReLU(),
                       nn.MaxPool1d(3, stride=2, padding=1), nn.BatchNorm1d(channels)]
            c_in = channels
        self.features = nn.Sequential(*layers)
        n_features = channels * pooled_length(n_pixels, blocks)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(n_features, hidden),
                                        nn.Dropout(dropout), nn.Linear(hidden, n_classes))
        self.output = TaskOutput("classification")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, n_classes)."""
        return self.output(self(x))


def keras_parameter_count(model: nn.Module) -> int:
    """Parameters as Keras counts them: trainable ones plus batch norm's running mean and variance."""
    bn = sum(m.running_mean.numel() + m.running_var.numel() for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm))
    return sum(p.numel() for p in model.parameters()) + bn


@register_model("specz_cnn")
def _build_specz_cnn(cfg: dict) -> nn.Module:
    return SpectrumCNN(cfg.get("n_pixels", 1780), cfg.get("n_classes", 800), cfg.get("blocks", 3),
                       cfg.get("channels", 16), cfg.get("kernel", 8), cfg.get("hidden", 512), cfg.get("dropout", 0.5))
