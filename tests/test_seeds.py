"""One seeding scheme: named streams under the user's seed, stable and independent."""

from __future__ import annotations

import numpy as np

from mirage_bayes.fitting.inference import SamplerConfig, seed_for
from mirage_bayes.forecast.run import forecast_seed
from mirage_bayes.inputs.chance import task_seed
from mirage_bayes.meta.fit import triplet_seeds
from mirage_bayes.seeds import derive_seed, seed_sequence


class _Task:
    task = "arith"


def test_every_stream_is_the_named_sequence_under_the_seed():
    expected = int(np.random.SeedSequence([7, *b"arith\x00power_law"]).generate_state(1)[0])
    assert seed_for(SamplerConfig(seed=7), _Task(), "power_law") == expected
    assert forecast_seed(7, "arith", "power_law", 4) == derive_seed(
        7, "arith", "power_law", "forecast", tail=(4,)
    )
    state = seed_sequence(7, ("f", "t", "m")).generate_state(8, dtype=np.uint64)
    np.testing.assert_array_equal(triplet_seeds(7, ("f", "t", "m")), state >> np.uint64(1))
    assert task_seed("arith") == derive_seed(0, "arith", "chance")


def test_streams_differ_by_name_and_seed_and_repeat():
    seeds = {derive_seed(s, task, trend) for s in (0, 1) for task in "ab"
             for trend in ("power_law", "broken_power_law")}  # fmt: skip
    assert len(seeds) == 8
    assert derive_seed(0, "a", "b") != derive_seed(0, "ab")  # names are separated
    assert derive_seed(5, "x") == derive_seed(5, "x")
