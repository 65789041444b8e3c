"""One home for the constants that several modules (and the command line) share.

Standard library only: the command line reads its defaults from here without importing NumPy,
PyMC or ArviZ, so ``mirage-bayes --help`` answers at once.
"""

from __future__ import annotations

__all__ = [
    "MAX_TEST_ITEMS",
    "RETRY_TARGET_ACCEPT",
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_THRESHOLD",
    "BROKEN_TREND",
    "DEFAULT_TRENDS",
    "ESS_BULK_MIN",
    "HDI_PROB",
    "ITEM_CHOICES",
    "LATE_ALPHA",
    "META_CHAINS",
    "META_DRAWS",
    "META_RETRIES",
    "META_SOURCES",
    "META_TUNE",
    "MIN_CHAINS",
    "MIN_DRAWS",
    "REPLICATES",
    "RHAT_MAX",
    "REFERENCE_TREND",
    "SMOOTH_TREND",
    "TREND_NAMES",
    "TREND_PREFERENCE",
    "VERSION",
]

VERSION = "0.1.0"

# The trends by the role they play in a verdict: the data-driven reference every fit is compared
# with, the smooth law (the null of "no emergence") and the broken alternative. Code outside
# mirage_bayes.models names a trend by its role, so that the roles stay in one place.
REFERENCE_TREND = "scale_free"
SMOOTH_TREND = "power_law"
BROKEN_TREND = "broken_power_law"
# Every trend of mirage_bayes.models.TRENDS (tests/models/test_models.py checks that they agree),
# and those compared by default; the reference is always fitted.
TREND_NAMES = (REFERENCE_TREND, SMOOTH_TREND, BROKEN_TREND)
DEFAULT_TRENDS = (SMOOTH_TREND, BROKEN_TREND)
# Where one trend stands for a task (plans, the resolution section): the smooth law first.
TREND_PREFERENCE = (*DEFAULT_TRENDS, REFERENCE_TREND)

# The sampler-diagnostics policy: r̂ ≤ RHAT_MAX, bulk ESS ≥ ESS_BULK_MIN, no divergences.
RHAT_MAX = 1.01
ESS_BULK_MIN = 400
# One chain gave "r̂ up to nan" (r̂ compares chains), and a few draws per chain gave results
# whose ESS and HDIs mean nothing: both are refused before any work.
MIN_DRAWS = 100
MIN_CHAINS = 2

HDI_PROB = 0.94  # ArviZ's default interval, in every table and figure

# plan: the largest test set it reports before saying "more than".
DEFAULT_MAX_ITEMS = 10_000_000
MAX_TEST_ITEMS = 1_000_000_000
"""Largest test-set size a ``meta`` table may give (or imply by its stderr): beyond it binomial
log-likelihoods lose their precision, and no benchmark is that large."""

# meta: the emergence-score threshold of the paper's Eq. 1, the sampler defaults under which the
# bundled real tables pass the diagnostics (README, "Diagnostics"), the named data sources and
# the ways of combining several rows of one model.
DEFAULT_THRESHOLD = 20.0
RETRY_TARGET_ACCEPT = (0.97, 0.99)
"""NUTS target acceptance of the refits after divergences: smaller steps, the usual cure."""
META_DRAWS = 500
META_TUNE = 500
META_CHAINS = 4
META_RETRIES = 2
ITEM_CHOICES = ("auto", "normal", "log_gamma", "compare")
"""``fit --items``: ``auto`` (per task, :data:`AUTO_ITEM_FAMILIES`), the item families of
:mod:`mirage_bayes.models.item_families`, or ``compare`` (both, by LOO)."""
AUTO_ITEM_FAMILIES = {"repeated attempts": "log_gamma", "one attempt": "normal"}
"""``--items auto``: repeated attempts see the hardest items' tail, which sets pass@k, so they get
the log-gamma family (it contains the normal at shape 0; ``validation/README.md``, "Repeated
attempts"); with one attempt per item the normal, at half the sampling."""
LATE_ALPHA = 0.05
"""The late-jump threshold, ``p_late < LATE_ALPHA``: at 0.05 the simulated late jumps of
``validation/late_alpha_tradeoff.py`` are found in 91–97% of curves and at most 2.7% of the
smooth laws that do not themselves look late are called late jumps; at 0.01 only 72% of the late
jumps near a chance floor of 0.25 were found."""
META_SOURCES = ("bigbench-bigg", "pythia-arithmetic", "lm-eval", "logs")
REPLICATES = ("pool", "mean")
