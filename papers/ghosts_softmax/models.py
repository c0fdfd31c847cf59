"""The six small digit classifiers of the r sweep and the spike test (8 x 8 images, 10 classes)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class MLP(nn.Module):
    """64 - width - 10 with ReLU, or with `depth` hidden layers, optional LayerNorm and GELU."""

    def __init__(self, width: int = 128, depth: int = 1, layer_norm: bool = False, gelu: bool = False):
        super().__init__()
        sizes = [64] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(nn.LayerNorm(width) if layer_norm else nn.Identity() for _ in range(depth))
        self.act = nn.GELU() if gelu else nn.ReLU()
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        for layer, norm in zip(self.hidden, self.norms):
            x = self.act(norm(layer(x)))
        return self.head(x)


class CNN(nn.Module):
    """Two 3 x 3 convolutions (optionally with BatchNorm) on the 8 x 8 image, then a linear head."""

    def __init__(self, channels: int = 16, batch_norm: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels) if batch_norm else nn.Identity()
        self.bn2 = nn.BatchNorm2d(channels) if batch_norm else nn.Identity()
        self.head = nn.Linear(channels * 16, 10)

    def forward(self, x):
        h = x.view(-1, 1, 8, 8)
        h = F.relu(self.bn1(self.conv1(h)))
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        return self.head(h.flatten(1))


class Transformer(nn.Module):
    """One pre-LayerNorm block over 8 row tokens (8 pixels each) and a class token; 2 heads, d = 16."""

    def __init__(self, d: int = 16, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.embed = nn.Linear(8, d)
        self.cls = nn.Parameter(0.02 * torch.randn(1, 1, d))
        self.pos = nn.Parameter(0.02 * torch.randn(1, 9, d))
        self.ln1, self.ln2, self.ln_out = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ff1, self.ff2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        n = x.shape[0]
        h = torch.cat([self.cls.expand(n, -1, -1), self.embed(x.view(n, 8, 8))], dim=1) + self.pos
        q, k, v = self.qkv(self.ln1(h)).chunk(3, dim=-1)
        d_head = q.shape[-1] // self.heads

        def split(t):
            return t.view(n, 9, self.heads, d_head).transpose(1, 2)

        weights = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(d_head), dim=-1)
        h = h + self.proj((weights @ split(v)).transpose(1, 2).reshape(n, 9, -1))
        h = h + self.ff2(F.gelu(self.ff1(self.ln2(h))))
        return self.head(self.ln_out(h[:, 0]))


BUILDERS = {
    "linear": lambda: nn.Linear(64, 10),
    "mlp": lambda: MLP(),
    "cnn": lambda: CNN(),
    "mlp_ln": lambda: MLP(width=64, depth=3, layer_norm=True, gelu=True),
    "cnn_bn": lambda: CNN(channels=8, batch_norm=True),
    "transformer": lambda: Transformer(),
}
NAMES = {"linear": "Linear", "mlp": "MLP", "cnn": "CNN", "mlp_ln": "MLP+LN", "cnn_bn": "CNN+BN",
         "transformer": "Transformer"}


def build(name: str, seed: int, device: str = "cpu", dtype=torch.float32) -> nn.Module:
    """Architecture `name` with torch's default initialisation drawn under `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BUILDERS[name]()
    return model.to(device=device, dtype=dtype)
