"""RunContext: what a paper's experiment.run(ctx) is handed, once per seed of the tier."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def progress_enabled() -> bool:
    """Progress bars only for a person at a terminal, never under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@dataclass
class RunContext:
    """Tier, device, seed and figure folder of one seed's run, with progress bars and figure saving.

    ``seed`` differs for each of the tier's ``n_seeds`` seeds; ``seed_index`` says which one this
    is (0 .. n_seeds - 1). Figures are kept from seed 0 only: the runner moves them next to the
    record once the whole run succeeded."""

    slug: str
    tier: str
    device: str
    seed: int
    out_dir: Path
    jobs: int = 1
    seed_index: int = 0
    n_seeds: int = 1
    figures: list[str] = field(default_factory=list)

    def rng(self, stream: int = 0) -> np.random.Generator:
        """A numpy Generator seeded from this run's seed and `stream`."""
        return np.random.default_rng([self.seed, stream])

    def progress(self, iterable=None, total=None, desc=None, **kwargs):
        """A tqdm progress bar on stderr (silent when stderr is no terminal or under CI)."""
        from tqdm.auto import tqdm

        label = desc or self.slug
        if self.n_seeds > 1:
            label = f"{label} [seed {self.seed_index + 1}/{self.n_seeds}]"
        return tqdm(
            iterable,
            total=total,
            desc=label,
            disable=not progress_enabled(),
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
            **kwargs,
        )

    def log(self, message: str) -> None:
        """One line on stderr, prefixed by the paper's slug."""
        print(f"[{self.slug}] {message}", file=sys.stderr, flush=True)

    def figure_path(self, name: str) -> Path:
        """Where figure `name` of this tier and device is staged."""
        return self.out_dir / f"{self.tier}-{self.device}-{name}.png"

    def save_figure(self, fig, name: str) -> Path:
        """Save a matplotlib figure as PNG (seed 0 only), close it, list it in the record."""
        import matplotlib.pyplot as plt

        path = self.figure_path(name)
        if self.seed_index == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=120, bbox_inches="tight")
            if path.name not in self.figures:
                self.figures.append(path.name)
        plt.close(fig)
        return path

    def synchronize(self) -> None:
        """Wait for queued GPU work (call before reading a clock); a no-op on CPU."""
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
