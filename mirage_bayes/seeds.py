"""The one way every random stream of the package is seeded: NumPy's ``SeedSequence`` over the
user's seed, the names of what is being drawn (task, trend, …, joined by NUL bytes) and any
integer tail (a refit's number of sizes). Each (task, trend, purpose) gets its own stream, so
adding a task or a trend never changes the draws of another, and the same seed gives the same
files byte for byte."""

from __future__ import annotations

import numpy as np

__all__ = ["derive_seed", "seed_sequence"]


def seed_sequence(seed: int, names: tuple[str, ...], *tail: int) -> np.random.SeedSequence:
    """``SeedSequence([seed, *bytes("\\x00".join(names)), *tail])``."""
    return np.random.SeedSequence([int(seed), *"\x00".join(names).encode(), *map(int, tail)])


def derive_seed(seed: int, *names: str, tail: tuple[int, ...] = ()) -> int:
    """One 32-bit seed for the stream named by ``names`` (and ``tail``) under ``seed``."""
    return int(seed_sequence(seed, names, *tail).generate_state(1)[0])
