"""Parameter counts of well-known model families, and resolving model names to sizes.

Every count here is computed from the model's published architecture (the ``config.json`` of its
Hugging Face repository: layers, width, vocabulary, positions, tied or untied output layer) with
the parameter formula of its architecture, so that each number can be traced and re-derived. The
formulas are checked in ``tests/inputs/test_model_sizes.py`` against every exact count the model
developers publish: the Pythia model card's table of total and non-embedding parameters
(all ten sizes) and the BLOOM model cards; and against the counts Hugging Face Transformers
reports for GPT-2, OPT and Llama 2 checkpoints.

Two counts are kept per model:

* ``total``: every parameter (what the model's name rounds, e.g. pythia-160m has 162,322,944);
* ``non_embedding``: total minus the token embedding, the learned position embedding and an
  untied output embedding (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", count
  model size this way; the Pythia card publishes both).

``total`` is the default; ``--size-count non_embedding`` selects the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.tables import read_table, show  # here: this module stays import-light

__all__ = [
    "COUNTS",
    "ModelSize",
    "MODEL_SIZES",
    "canonical_name",
    "lookup",
    "read_params_file",
    "size_resolver",
]

COUNTS = ("total", "non_embedding")
_HF = "https://huggingface.co"


@dataclass(frozen=True)
class ModelSize:
    """One model of the built-in table: its counts and where they come from."""

    name: str
    family: str
    total: int
    non_embedding: int
    source: str

    def count(self, which: str) -> int:
        """``total`` or ``non_embedding``."""
        return self.total if which == "total" else self.non_embedding


# Parameter formulas. Each returns (total, embedding parameters) for one architecture; a
# transformer block with full attention, biases and a 4·d MLP has 12·d² + 13·d parameters
# (QKV 3d² + 3d, output d² + d, MLP 8d² + 5d, two LayerNorms 4d).
def _block(d: int) -> int:
    return 12 * d * d + 13 * d


def _gpt_neox(layers: int, d: int, vocab: int) -> tuple[int, int]:
    # Rotary positions (no learned table), untied input and output embeddings, final LayerNorm.
    embedding = 2 * vocab * d
    return layers * _block(d) + 2 * d + embedding, embedding


def _gpt2(layers: int, d: int, vocab: int = 50257, positions: int = 1024) -> tuple[int, int]:
    # Learned positions, output layer tied to the token embedding, final LayerNorm.
    embedding = vocab * d + positions * d
    return layers * _block(d) + 2 * d + embedding, embedding


def _opt(layers: int, d: int, *, embed: int | None = None) -> tuple[int, int]:
    # OPT: vocabulary 50272, 2048 learned positions plus the offset of 2 OPT reserves, tied
    # output. opt-350m embeds in 512 dimensions, projects in and out of the 1024-wide blocks
    # and, being post-LayerNorm, has no final LayerNorm.
    vocab, positions = 50272, 2050
    if embed is None:
        embedding = vocab * d + positions * d
        return layers * _block(d) + 2 * d + embedding, embedding
    embedding = vocab * embed + positions * d
    return layers * _block(d) + 2 * embed * d + embedding, embedding


def _bloom(layers: int, d: int, vocab: int = 250880) -> tuple[int, int]:
    # ALiBi (no position table), tied output, LayerNorm after the embedding and at the end.
    embedding = vocab * d
    return layers * _block(d) + 4 * d + embedding, embedding


def _llama(
    layers: int, d: int, ffn: int, *, heads: int, kv_heads: int, vocab: int = 32000
) -> tuple[int, int]:
    # No biases, SwiGLU MLP (3·d·ffn), RMSNorm (d weights, two per block and one final),
    # grouped-query attention (K and V of kv_heads heads), untied output.
    kv = 2 * d * (d // heads) * kv_heads
    block = 2 * d * d + kv + 3 * d * ffn + 2 * d
    embedding = 2 * vocab * d
    return layers * block + d + embedding, embedding


_PYTHIA_CARD = (
    f"{_HF}/EleutherAI/pythia-{{}}: model card, table 'Naming convention and parameter count' "
    "(total and non-embedding); Biderman et al. 2023, Pythia"
)
_CONFIG = f"{_HF}/{{}}: config.json ({{}})"


def _pythia(size: str, layers: int, d: int, vocab: int = 50304) -> ModelSize:
    total, embedding = _gpt_neox(layers, d, vocab)
    return ModelSize(
        f"pythia-{size}", "pythia", total, total - embedding, _PYTHIA_CARD.format(size)
    )


def _entry(name: str, family: str, repo: str, arch: str, counts: tuple[int, int]) -> ModelSize:
    total, embedding = counts
    return ModelSize(name, family, total, total - embedding, _CONFIG.format(repo, arch))


def _table() -> tuple[ModelSize, ...]:
    pythia = [
        _pythia("14m", 6, 128),
        _pythia("31m", 6, 256),
        _pythia("70m", 6, 512),
        _pythia("160m", 12, 768),
        _pythia("410m", 24, 1024),
        _pythia("1b", 16, 2048),
        _pythia("1.4b", 24, 2048),
        _pythia("2.8b", 32, 2560),
        _pythia("6.9b", 32, 4096, vocab=50432),
        _pythia("12b", 36, 5120, vocab=50688),
    ]
    gpt2 = [
        _entry(name, "gpt2", f"openai-community/{name}", f"{n} layers, d_model {d}", _gpt2(n, d))
        for name, n, d in [
            ("gpt2", 12, 768),
            ("gpt2-medium", 24, 1024),
            ("gpt2-large", 36, 1280),
            ("gpt2-xl", 48, 1600),
        ]
    ]
    opt = [
        _entry(
            f"opt-{size}", "opt", f"facebook/opt-{size}", f"{n} layers, hidden_size {d}"
            + (f", word_embed_proj_dim {e}" if e else ""), _opt(n, d, embed=e),
        )
        for size, n, d, e in [
            ("125m", 12, 768, None),
            ("350m", 24, 1024, 512),
            ("1.3b", 24, 2048, None),
            ("2.7b", 32, 2560, None),
            ("6.7b", 32, 4096, None),
            ("13b", 40, 5120, None),
            ("30b", 48, 7168, None),
            ("66b", 64, 9216, None),
        ]
    ]  # fmt: skip
    # One table per family, written out: each row is checked against its model card, and a
    # generator over families would hide which numbers were checked.
    bloom = [
        _entry(name, "bloom", f"bigscience/{name}", f"n_layer {n}, hidden_size {d}", _bloom(n, d))
        for name, n, d in [
            ("bloom-560m", 24, 1024),
            ("bloom-1b1", 24, 1536),
            ("bloom-1b7", 24, 2048),
            ("bloom-3b", 30, 2560),
            ("bloom-7b1", 30, 4096),
            ("bloom", 70, 14336),
        ]
    ]
    llama = [
        _entry(
            f"llama-2-{size}", "llama-2", f"meta-llama/Llama-2-{size}-hf",
            f"{n} layers, hidden_size {d}, intermediate_size {f}, {kv} key-value heads",
            _llama(n, d, f, heads=h, kv_heads=kv),
        )
        for size, n, d, f, h, kv in [
            ("7b", 32, 4096, 11008, 32, 32),
            ("13b", 40, 5120, 13824, 40, 40),
            ("70b", 80, 8192, 28672, 64, 8),
        ]
    ]  # fmt: skip
    return (*pythia, *gpt2, *opt, *bloom, *llama)


MODEL_SIZES: tuple[ModelSize, ...] = _table()
_BY_NAME = {m.name: m for m in MODEL_SIZES}

# Variants with the same architecture as the base model: Pythia trained on the deduplicated
# Pile, the pre-2023 Pythia release ("-v0"), Llama 2 chat models and Meta's Transformers exports.
_SAME_SIZE_SUFFIXES = ("-hf", "-chat", "-deduped", "-v0")


def canonical_name(name: str) -> str:
    """The key a model name is looked up by.

    The organisation or folder part (``EleutherAI/``, lm-evaluation-harness's sanitized
    ``EleutherAI__``, a local path) and a revision (``@step143000``) are dropped, case is ignored
    and same-size variant suffixes (``-deduped``, ``-v0``, ``-chat``, ``-hf``) are removed:
    ``EleutherAI/pythia-160m-deduped`` → ``pythia-160m``.
    """
    base = re.split(r"[/\\]|__", name.strip().rstrip("/\\"))[-1].lower()
    base = base.split("@", 1)[0]
    changed = True
    while changed:
        changed = False
        for suffix in _SAME_SIZE_SUFFIXES:
            if base.endswith(suffix) and len(base) > len(suffix):
                base, changed = base[: -len(suffix)], True
    return base


def lookup(name: str) -> ModelSize | None:
    """The built-in entry for a model name, or ``None`` when the model is not in the table."""
    return _BY_NAME.get(canonical_name(name))


def read_params_file(path: str | Path) -> dict[str, float]:
    """Read a ``model,n_params`` table (CSV, TSV, JSON Lines or Parquet) into ``{model: size}``."""

    table = read_table(path, ("model", "n_params"))
    missing = [c for c in ("model", "n_params") if c not in table.frame]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; the file has "
            f"{', '.join(repr(str(c)) for c in table.frame.columns)}",
            where=str(path),
            fix="give a table with columns model,n_params (one row per model)",
        )
    sizes: dict[str, float] = {}
    cells = zip(table.frame["model"], table.frame["n_params"], strict=True)
    for i, (model, value) in enumerate(cells):
        name = str(model).strip() if model is not None else ""
        if not name or name == "nan":
            raise table.fail(i, "model is empty", "give a model name in every row")
        try:
            number = float(str(value).strip()) if not isinstance(value, bool) else np.nan
        except ValueError:
            number = np.nan
        if not np.isfinite(number) or number <= 0:
            what = f"n_params {show(value)} is not a positive number"
            raise table.fail(i, what, "give the parameter count as a number such as 1.3e9")
        if name in sizes and sizes[name] != number:
            what = f"model {name!r} has n_params {sizes[name]:g} and {number:g}"
            raise table.fail(i, what, "give each model one parameter count")
        sizes[name] = number
    return sizes


def _match(name: str, given: dict[str, float]) -> float | None:
    """Size in a user's table: its exact name, else the one entry of its canonical name."""
    if name in given:
        return given[name]
    key = canonical_name(name)
    hits = {v for k, v in given.items() if canonical_name(k) == key}
    return hits.pop() if len(hits) == 1 else None


def size_resolver(
    params: str | Path | None = None, *, count: str = "total"
) -> Callable[[Sequence[str]], dict[str, float]]:
    """A function that maps model names to parameter counts, or fails naming every unknown model.

    Parameters
    ----------
    params
        A ``model,n_params`` table. Its names match exactly or by :func:`canonical_name`
        (``pythia-160m`` in the table serves ``EleutherAI/pythia-160m``). Without it the built-in
        table :data:`MODEL_SIZES` is used.
    count
        ``total`` or ``non_embedding``: which built-in count to use.
    """
    if count not in COUNTS:
        raise InputError(f"unknown size count {count!r}", fix=f"choose one of {', '.join(COUNTS)}")
    given = read_params_file(params) if params is not None else None

    def resolve(models: Sequence[str]) -> dict[str, float]:
        sizes: dict[str, float] = {}
        unknown: list[str] = []
        for model in dict.fromkeys(models):
            if given is not None:
                size = _match(model, given)
            else:
                entry = lookup(model)
                size = None if entry is None else float(entry.count(count))
            if size is None:
                unknown.append(model)
            else:
                sizes[model] = size
        if unknown:
            raise _unknown_error(unknown, params)
        return sizes

    return resolve


def _unknown_error(unknown: Iterable[str], params: str | Path | None) -> InputError:
    names = ", ".join(repr(m) for m in unknown)
    if params is not None:
        return InputError(
            f"no parameter count for model(s) {names}",
            where=str(params),
            fix="add a row model,n_params for each of them",
        )
    families = sorted({m.family for m in MODEL_SIZES})
    return InputError(
        f"the size of model(s) {names} is unknown (the built-in table covers "
        f"{', '.join(families)})",
        fix="pass --params sizes.csv, a CSV with columns model,n_params",
    )


def family_of(name: str) -> str | None:
    """The built-in family of a model (``pythia``), or ``None`` when it is not in the table."""
    entry = lookup(name)
    return None if entry is None else entry.family
