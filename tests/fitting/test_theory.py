"""The closed-form mathematical model (paper Fig. 2)."""

import numpy as np
from matplotlib.figure import Figure

from mirage_bayes.fitting.theory import flat_fraction, mc_grade, metric_curves, plot_mirage_model

GRID = np.geomspace(1.25e8, 1.75e11, 200)


def test_metric_curves_match_the_closed_forms():
    curves = metric_curves(GRID, c=3e8, alpha=-0.6, lengths=(1, 4), choices=4)
    l_ce = (GRID / 3e8) ** -0.6
    eps = 1 - np.exp(-l_ce)
    four = curves[curves["length"] == 4]
    np.testing.assert_allclose(four["epsilon"], eps)
    np.testing.assert_allclose(four["accuracy"], np.exp(-4 * l_ce))
    np.testing.assert_allclose(four["token_edit_distance"], 4 * eps)
    np.testing.assert_allclose(four["brier"], eps**2 * 4 / 3)


def test_mc_grade_is_a_step_at_the_indifference_point():
    # With K = 4 the right option wins once 1 − ε > ε/3, i.e. ε < 0.75; ties are wrong.
    np.testing.assert_array_equal(mc_grade(np.array([0.8, 0.75, 0.7]), 4), [0.0, 0.0, 1.0])


def test_long_targets_look_emergent_while_edit_distance_moves_at_once():
    curves = metric_curves(GRID, c=3e8, alpha=-0.6, lengths=(1, 5))
    five = curves[curves["length"] == 5]
    one = curves[curves["length"] == 1]
    assert flat_fraction(GRID, five["accuracy"]) > 3 * flat_fraction(GRID, one["accuracy"]) / 2
    assert flat_fraction(GRID, five["accuracy"]) > 0.2
    assert flat_fraction(GRID, five["token_edit_distance"]) < 0.1


def test_flat_fraction_extremes():
    assert flat_fraction(GRID, np.ones_like(GRID)) == 1.0
    assert flat_fraction(GRID, np.log(GRID)) < 0.15


def test_plot_mirage_model_returns_a_four_panel_figure():
    fig = plot_mirage_model(n_items=50)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    assert fig.axes[1].get_xscale() == "log"
