"""The scored error rate with chance matches, ``ε·(1 − g·ε^m)``, and its inverse."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirage_bayes.models.chance_link import (
    CHANCE_EXPONENT,
    chance_exponent,
    produced_error,
    scored_error,
)


def test_ends_of_the_range():
    g = np.array([0.0, 0.05, 0.2, 0.6])
    np.testing.assert_allclose(scored_error(1.0, g), 1.0 - g)  # every token wrong: the floor
    np.testing.assert_allclose(scored_error(0.0, g), 0.0)
    # A lone wrong token among right ones is (to first order) never matched by chance.
    small = 1e-4
    np.testing.assert_allclose(scored_error(small, g[:3]), small, rtol=1e-6)
    np.testing.assert_allclose(scored_error(0.3, 0.0), 0.3)


@given(st.floats(0.0, 0.999))
def test_scored_rate_rises_with_epsilon(g):
    eps = np.linspace(0.0, 1.0, 2001)
    rate = scored_error(eps, g)
    assert np.all(np.diff(rate) >= -1e-12)
    assert chance_exponent(g) <= CHANCE_EXPONENT


def test_exponent_is_lowered_only_when_needed():
    assert chance_exponent(0.0) == CHANCE_EXPONENT
    assert chance_exponent(1 / (CHANCE_EXPONENT + 1)) == pytest.approx(CHANCE_EXPONENT)
    assert chance_exponent(0.5) == pytest.approx(1.0)


@given(st.floats(0.0, 1.0), st.floats(0.0, 0.9))
def test_produced_error_inverts_scored_error(eps, g):
    tokens = np.array([[3.0], [5.0]])
    chance = np.array([[g], [g / 2]])
    errors = (tokens * scored_error(eps, chance)).sum(0)
    np.testing.assert_allclose(produced_error(errors, tokens, chance), [eps], atol=1e-9)


def test_produced_error_caps_at_one_and_marks_empty_columns():
    tokens = np.array([[4.0, 0.0]])
    chance = np.array([[0.1, 0.1]])
    out = produced_error(np.array([4.0, 0.0]), tokens, chance)
    assert out[0] == pytest.approx(1.0) and np.isnan(out[1])
