"""The marginal item log-likelihood as one fused, compiled kernel (value and gradient).

Written as a PyTensor graph the integral over item difficulty is a dozen small array operations,
each a pass over the ``patterns × nodes`` grid; fused into one Numba loop it is a single pass that
also yields the gradient, computed analytically. Numba caches the machine code on disk
(``cache=True``), so only the first run on a machine pays for compiling it.

Notation: ``η[s, q] = μ[s] + σ·z[q]`` on scale ``s`` and grid node ``q``; ``λ = exp(η)`` is the
per-token cross-entropy; ``log ε = log(1 − exp(−λ))`` and ``log(1 − ε) = −λ``. Pattern ``p`` has
``k[p, s]`` errors and ``c[p, s]`` correct tokens at scale ``s`` and occurs ``n[p]`` times.

Chance matches (:mod:`mirage_bayes.inputs.chance`): a token the model did not produce is still
counted as reproduced now and then, so a token is scored wrong with probability ``ε·(1 − g·ε^m)``
and reproduced with ``1 − ε·(1 − g·ε^m)`` (:mod:`mirage_bayes.models.chance_link`). ``g`` depends on
the scale and the target length, so each pattern belongs to a *chance group* ``G[p]`` with rate
``g[G, s]`` (one group of zeros when there are no chance matches, and then the formulas reduce to
the ones above exactly).
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from mirage_bayes.models.chance_link import CHANCE_CAP, CHANCE_EXPONENT

LOG2 = 0.6931471805599453


@numba.njit(cache=True)
def _link_tables(mu, sigma, nodes, chance, chance_grad):
    """Per chance group, scale and node: log P(scored wrong), log P(scored reproduced), their
    derivatives in ``η`` and, with ``chance_grad``, their derivatives in the group's chance rate
    ``g`` (without it those two tables are empty: the draw-by-draw functions need no gradient).

    With ``g = 0``: ``log ε``, ``−λ``, ``λ / expm1(λ)`` and ``−λ``. With ``g > 0`` a token is
    scored wrong with probability ``ε·(1 − g·ε^m)`` (:mod:`mirage_bayes.models.chance_link`). The
    derivative in ``g`` is taken as 0 where ``g = 0``: such a group has no chance term (a scaled
    zero stays zero), and the one-sided derivative there overflows where ε is near 1.
    """
    n_groups, n_scales, n_nodes = chance.shape[0], mu.shape[0], nodes.shape[0]
    log_err = np.empty((n_groups, n_scales, n_nodes))
    log_ok = np.empty((n_groups, n_scales, n_nodes))
    dlog_err = np.empty((n_groups, n_scales, n_nodes))
    dlog_ok = np.empty((n_groups, n_scales, n_nodes))
    shape_dg = (n_groups, n_scales, n_nodes) if chance_grad else (0, 0, 0)
    derr_dg = np.zeros(shape_dg)
    dok_dg = np.zeros(shape_dg)
    for s in range(n_scales):
        chance_here = False
        for g in range(n_groups):
            chance_here = chance_here or chance[g, s] != 0.0
        for q in range(n_nodes):
            lam = np.exp(mu[s] + sigma * nodes[q])
            if lam < LOG2:  # log(1 − e^−λ) accurately at both ends
                log_eps = np.log(-np.expm1(-lam))
            else:
                log_eps = np.log1p(-np.exp(-lam))
            # d/dη log(1 − e^−λ) = λ e^−λ / (1 − e^−λ) = λ / expm1(λ); → 1 as λ → 0.
            ratio = lam / np.expm1(lam) if lam > 1e-300 else 1.0
            eps = survive = bounded_power = 0.0
            if chance_here:  # what every group with chance matches shares, computed once
                eps, survive = np.exp(log_eps), np.exp(-lam)
                bounded_power = np.exp(CHANCE_EXPONENT * log_eps)
            for g in range(n_groups):
                c = chance[g, s]
                if c == 0.0:
                    log_err[g, s, q] = log_eps
                    log_ok[g, s, q] = -lam
                    dlog_err[g, s, q] = ratio
                    dlog_ok[g, s, q] = -lam
                    continue
                bounded = c * (CHANCE_EXPONENT + 1.0) <= 1.0
                m = CHANCE_EXPONENT if bounded else 1.0 / c - 1.0
                power = bounded_power if bounded else np.exp(m * log_eps)  # ε^m
                log_err[g, s, q] = log_eps + np.log1p(-c * power)
                # d/dη log(1 − g ε^m) = −g m ε^m / (1 − g ε^m) · d log ε / dη
                dlog_err[g, s, q] = ratio * (1.0 - c * m * power / (1.0 - c * power))
                if eps < 0.5:
                    ok = np.log1p(-eps * (1.0 - c * power))
                else:  # 1 − ε + g ε^(m+1) = e^−λ + g ε^(m+1), without cancellation near ε = 1
                    ok = np.log(survive + c * eps * power)
                log_ok[g, s, q] = ok
                # d/dη log(1 − ε + g ε^(m+1)) = −(1 − g (m+1) ε^m)·λ e^−λ / (1 − ε + g ε^(m+1))
                dlog_ok[g, s, q] = -(1.0 - c * (m + 1.0) * power) * lam * np.exp(-lam - ok)
                if not chance_grad:
                    continue
                # d(g ε^m)/dg: ε^m, and with m = 1/g − 1 also g ε^m log ε · dm/dg = −ε^m log ε / g.
                d_power = power if bounded or power == 0.0 else power * (1.0 - log_eps / c)
                derr_dg[g, s, q] = -d_power / (1.0 - c * power)
                dok_dg[g, s, q] = eps * d_power * np.exp(-ok)
    return log_err, log_ok, dlog_err, dlog_ok, derr_dg, dok_dg


@numba.njit(cache=True, fastmath=False)
def marginal_loglik_and_grad(
    mu, sigma, nodes, log_w, errors, correct, counts, log_binom, chance, group
):
    """Σ_p n[p]·log Σ_q w[q] Π_s Binomial(k[p,s] | k+c, P(scored wrong | η[s,q], g[G[p], s])),
    and its gradient.

    Returns ``(value, d value / d mu, d value / d sigma, d value / d chance,
    d value / d log_w)``; the last is each node's share of the items' posterior mass, so an item
    distribution whose weights are parameters (:mod:`mirage_bayes.models.item_families`) gets its
    gradient from the same pass.
    """
    n_scales, n_nodes, n_patterns = mu.shape[0], nodes.shape[0], errors.shape[0]
    n_groups = chance.shape[0]
    tables = _link_tables(mu, sigma, nodes, chance, True)
    log_err, log_ok, dlog_err, dlog_ok, derr_dg, dok_dg = tables
    # Accumulated d value / d log P(wrong)[G, s, q] and d value / d log P(reproduced)[G, s, q].
    acc_err = np.zeros((n_groups, n_scales, n_nodes))
    acc_ok = np.zeros((n_groups, n_scales, n_nodes))
    per_node = np.empty(n_nodes)
    grad_log_w = np.zeros(n_nodes)
    total = 0.0
    for p in range(n_patterns):
        g = group[p]
        for q in range(n_nodes):
            per_node[q] = log_w[q]
        for s in range(n_scales):
            k, c = errors[p, s], correct[p, s]
            if k == 0.0 and c == 0.0:
                continue  # item not evaluated at this scale
            for q in range(n_nodes):
                per_node[q] += k * log_err[g, s, q] + c * log_ok[g, s, q]
        top = per_node.max()
        norm = 0.0
        for q in range(n_nodes):
            per_node[q] = np.exp(per_node[q] - top)
            norm += per_node[q]
        total += counts[p] * (top + np.log(norm) + log_binom[p])
        scale = counts[p] / norm
        for q in range(n_nodes):
            grad_log_w[q] += scale * per_node[q]
        for s in range(n_scales):
            k, c = errors[p, s], correct[p, s]
            if k == 0.0 and c == 0.0:
                continue
            for q in range(n_nodes):
                r = scale * per_node[q]
                acc_err[g, s, q] += r * k
                acc_ok[g, s, q] += r * c
    grad_mu = np.zeros(n_scales)
    grad_sigma = 0.0
    grad_chance = np.zeros((n_groups, n_scales))
    for s in range(n_scales):
        for q in range(n_nodes):
            d_eta = 0.0
            for g in range(n_groups):
                d_eta += acc_err[g, s, q] * dlog_err[g, s, q] + acc_ok[g, s, q] * dlog_ok[g, s, q]
                if chance[g, s] > 0.0:  # 0 elsewhere (see _link_tables)
                    grad_chance[g, s] += acc_err[g, s, q] * derr_dg[g, s, q]
                    grad_chance[g, s] += acc_ok[g, s, q] * dok_dg[g, s, q]
            grad_mu[s] += d_eta
            grad_sigma += d_eta * nodes[q]
    return total, grad_mu, grad_sigma, grad_chance, grad_log_w


class MarginalItemLogLik(Op):
    """PyTensor Op: the marginal log-likelihood and its gradient in ``mu``, ``sigma``,
    ``chance`` and the grid's log weights.

    Inputs ``(mu, sigma, nodes, log_w, errors, correct, counts, log_binom, chance, group)``: the
    trend at every scale, the item spread, the grid (nodes and normalised log weights), the
    patterns (``errors`` and ``correct`` are ``patterns × scales``, ``counts`` and ``log_binom``
    per pattern) and the chance-match rates (``chance`` is ``groups × scales``, ``group`` the
    group of each pattern, as floats). Outputs ``(value, d/dmu, d/dsigma, d/dchance, d/dlog_w)``;
    the gradient in ``chance`` lets the model scale the measured rates by a parameter, the one in
    ``log_w`` lets an item distribution with a shape parameter set the weights. The data are
    inputs rather than attributes so that a compiled function can be given new data
    (``pm.Data`` + ``pm.set_data``) without being rebuilt; the likelihood is linear in the
    per-scale counts, so a scale weighted by ``w`` in ``errors`` and ``correct`` contributes
    ``w`` times its log-likelihood inside the integral (``w = 0`` leaves it out).

    Its gradient reuses the second and third outputs, so a ``logp_dlogp`` function evaluates the
    kernel once per point.
    """

    __props__ = ()
    # nodes, log_w, errors, correct, counts, log_binom, chance, group
    _DATA_NDIM = (1, 1, 2, 2, 1, 1, 2, 1)

    def make_node(self, mu, sigma, nodes, log_w, errors, correct, counts, log_binom, chance, group):
        mu = pt.as_tensor_variable(mu).astype("float64")
        sigma = pt.as_tensor_variable(sigma).astype("float64")
        data = [
            pt.as_tensor_variable(value).astype("float64")
            for value in (nodes, log_w, errors, correct, counts, log_binom, chance, group)
        ]
        if mu.ndim != 1 or sigma.ndim != 0:
            raise TypeError("mu must be a vector and sigma a scalar")
        if tuple(v.ndim for v in data) != self._DATA_NDIM:
            raise TypeError(f"data inputs must have dimensions {self._DATA_NDIM}")
        outputs = [pt.dscalar(), pt.dvector(), pt.dscalar(), pt.dmatrix(), pt.dvector()]
        return Apply(self, [mu, sigma, *data], outputs)

    def perform(self, node, inputs, output_storage):
        mu, sigma, *data, group = inputs
        value, grad_mu, grad_sigma, grad_chance, grad_log_w = marginal_loglik_and_grad(
            np.ascontiguousarray(mu, dtype=np.float64),
            float(sigma),
            *(np.ascontiguousarray(a, dtype=np.float64) for a in data),
            np.asarray(group).astype(np.int64),
        )
        output_storage[0][0] = np.asarray(value)
        output_storage[1][0] = grad_mu
        output_storage[2][0] = np.asarray(grad_sigma)
        output_storage[3][0] = grad_chance
        output_storage[4][0] = grad_log_w

    def connection_pattern(self, node):
        # The counts and nodes are constants or pm.Data; the chance rates may be scaled by a
        # parameter and the log weights set by one, so those two have a gradient.
        on, off = [True] * 5, [False] * 5
        return [on, on, off, on, off, off, off, off, on, off]

    def L_op(self, inputs, outputs, output_grads):
        g = output_grads[0]
        off = [disconnected_type() for _ in range(4)]
        return [g * outputs[1], g * outputs[2], disconnected_type(), g * outputs[4], *off,
                g * outputs[3], disconnected_type()]  # fmt: skip


@numba.njit(cache=True)
def _node_loglik(mu, sigma, nodes, log_w, errors, correct, chance, group, out):
    """Fill ``out[p, q]``: log w[q] + log-likelihood of pattern ``p`` at node ``q`` (one draw:
    ``log_w`` is that draw's row)."""
    n_scales, n_nodes = mu.shape[0], nodes.shape[0]
    log_err, log_ok, _, _, _, _ = _link_tables(mu, sigma, nodes, chance, False)
    for p in range(errors.shape[0]):
        g = group[p]
        for q in range(n_nodes):
            out[p, q] = log_w[q]
        for s in range(n_scales):
            k, c = errors[p, s], correct[p, s]
            if k == 0.0 and c == 0.0:
                continue
            for q in range(n_nodes):
                out[p, q] += k * log_err[g, s, q] + c * log_ok[g, s, q]


@numba.njit(cache=True)
def _scaled(chance, scale):
    """``min(κ·g, CHANCE_CAP)``: :func:`mirage_bayes.models.chance_link.effective_chance` for one
    draw."""
    return np.minimum(chance * scale, CHANCE_CAP)


@numba.njit(cache=True)
def pattern_loglik_draws(
    mu, sigma, nodes, log_w, errors, correct, log_binom, chance, group, chance_scale
):
    """Marginal log-likelihood of every pattern for every draw: ``(draws, patterns)``.

    ``chance_scale`` is each draw's factor ``κ`` on the chance rates (ones without one), and
    ``log_w`` each draw's grid log weights ``(draws, nodes)`` (the item family's).
    """
    n_draws, n_patterns, n_nodes = mu.shape[0], errors.shape[0], nodes.shape[0]
    out = np.empty((n_draws, n_patterns))
    per_node = np.empty((n_patterns, n_nodes))
    for d in range(n_draws):
        rates = _scaled(chance, chance_scale[d])
        _node_loglik(mu[d], sigma[d], nodes, log_w[d], errors, correct, rates, group, per_node)
        for p in range(n_patterns):
            top = per_node[p].max()
            total = 0.0
            for q in range(n_nodes):
                total += np.exp(per_node[p, q] - top)
            out[d, p] = top + np.log(total) + log_binom[p]
    return out


@numba.njit(cache=True)
def sample_item_nodes(
    mu, sigma, nodes, log_w, errors, correct, chance, group, pattern_of_item, uniforms,
    chance_scale,
):  # fmt: skip
    """For every draw and item, a grid node drawn from the item's conditional posterior.

    ``uniforms`` is ``(draws, items)``; returns node indices of the same shape.
    ``chance_scale`` is each draw's factor ``κ`` on the chance rates.
    """
    # The per-draw loop mirrors pattern_loglik_draws's on purpose: both run in Numba over the
    # same scratch array, and a shared helper would allocate it once per draw.
    n_draws, n_items = uniforms.shape
    n_patterns, n_nodes = errors.shape[0], nodes.shape[0]
    picks = np.empty((n_draws, n_items), dtype=np.int64)
    per_node = np.empty((n_patterns, n_nodes))
    for d in range(n_draws):
        rates = _scaled(chance, chance_scale[d])
        _node_loglik(mu[d], sigma[d], nodes, log_w[d], errors, correct, rates, group, per_node)
        for p in range(n_patterns):
            top = per_node[p].max()
            running = 0.0
            for q in range(n_nodes):
                running += np.exp(per_node[p, q] - top)
                per_node[p, q] = running  # unnormalised cumulative weights
        for i in range(n_items):
            p = pattern_of_item[i]
            target = uniforms[d, i] * per_node[p, n_nodes - 1]
            q = np.searchsorted(per_node[p], target)
            picks[d, i] = min(q, n_nodes - 1)
    return picks


@numba.njit(cache=True)
def held_out_loglik_draws(
    mu, sigma, nodes, log_w, errors, correct, counts, chance, group, fitted, held_out, chance_scale
):
    """Log-likelihood of each held-out scale's data given the fitted scales' data, per draw.

    For draw ``d`` and held-out scale ``h = held_out[j]``, ``out[d, j]`` is
    ``Σ_p n[p]·log p(y[p, h] | y[p, fitted], μ, σ)``: each item's difficulty integrated over
    its conditional distribution given what the item showed at the fitted scales (``fitted`` is
    a 0/1 weight per scale), i.e. ``log Σ_q w_q L_fit L_h − log Σ_q w_q L_fit`` on the grid.
    Items not evaluated at ``h`` contribute 0; the binomial coefficients are left to the caller.
    ``chance_scale`` is each draw's factor ``κ`` on the chance rates.
    """
    n_draws, n_patterns, n_nodes = mu.shape[0], errors.shape[0], nodes.shape[0]
    out = np.zeros((n_draws, held_out.shape[0]))
    base = np.empty((n_patterns, n_nodes))
    with_h = np.empty(n_nodes)
    fitted_errors, fitted_correct = errors * fitted, correct * fitted
    for d in range(n_draws):
        rates = _scaled(chance, chance_scale[d])
        _node_loglik(
            mu[d], sigma[d], nodes, log_w[d], fitted_errors, fitted_correct, rates, group, base
        )
        log_err, log_ok, _, _, _, _ = _link_tables(mu[d], sigma[d], nodes, rates, False)
        for p in range(n_patterns):
            g = group[p]
            top = base[p].max()
            norm = 0.0
            for q in range(n_nodes):
                norm += np.exp(base[p, q] - top)
            log_fit = top + np.log(norm)
            for j in range(held_out.shape[0]):
                h = held_out[j]
                k, c = errors[p, h], correct[p, h]
                if k == 0.0 and c == 0.0:
                    continue
                for q in range(n_nodes):
                    with_h[q] = base[p, q] + k * log_err[g, h, q] + c * log_ok[g, h, q]
                top_h = with_h.max()
                total = 0.0
                for q in range(n_nodes):
                    total += np.exp(with_h[q] - top_h)
                out[d, j] += counts[p] * (top_h + np.log(total) - log_fit)
    return out
