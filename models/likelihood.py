"""The marginal item log-likelihood as one fused, compiled kernel (value and gradient).

Written as a PyTensor graph the integral over item difficulty is a dozen small array operations,
each a pass over the ``patterns × nodes`` grid; fused into one Numba loop it is a single pass that
also yields the gradient, computed analytically. Numba caches the machine code on disk
(``cache=True``), so only the first run on a machine pays for compiling it.

Notation: ``η[s, q] = μ[s] + σ·z[q]`` on scale ``s`` and grid node ``q``; ``λ = exp(η)`` is the
per-token cross-entropy; ``log ε = log(1 − exp(−λ))`` and ``log(1 − ε) = −λ``. Pattern ``p`` has
``k[p, s]`` errors and ``c[p, s]`` correct tokens at scale ``s`` and occurs ``n[p]`` times.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op


@numba.njit(cache=True)
def _link_tables(mu, sigma, nodes):
    """``log ε`` and ``log(1 − ε) = −λ`` at every scale and grid node, ``λ = exp(μ + σ·z)``."""
    n_scales, n_nodes = mu.shape[0], nodes.shape[0]
    log_eps = np.empty((n_scales, n_nodes))
    log_not = np.empty((n_scales, n_nodes))
    for s in range(n_scales):
        for q in range(n_nodes):
            lam = np.exp(mu[s] + sigma * nodes[q])
            log_not[s, q] = -lam
            if lam < 0.6931471805599453:  # log(1 − e^−λ) accurately at both ends
                log_eps[s, q] = np.log(-np.expm1(-lam))
            else:
                log_eps[s, q] = np.log1p(-np.exp(-lam))
    return log_eps, log_not


@numba.njit(cache=True, fastmath=False)
def marginal_loglik_and_grad(mu, sigma, nodes, log_w, errors, correct, counts, log_binom):
    """Σ_p n[p]·log Σ_q w[q] Π_s Binomial(k[p,s] | k+c, ε(η[s,q])), and its gradient.

    Returns ``(value, d value / d mu, d value / d sigma)``.
    """
    n_scales, n_nodes, n_patterns = mu.shape[0], nodes.shape[0], errors.shape[0]
    log_eps, log_not = _link_tables(mu, sigma, nodes)
    dlog_eps = np.empty((n_scales, n_nodes))
    for s in range(n_scales):
        for q in range(n_nodes):
            lam = -log_not[s, q]
            # d/dη log(1 − e^−λ) = λ e^−λ / (1 − e^−λ) = λ / expm1(λ); → 1 as λ → 0.
            dlog_eps[s, q] = lam / np.expm1(lam) if lam > 1e-300 else 1.0
    # Accumulated d value / d log ε[s, q] and d value / d log(1 − ε)[s, q].
    acc_eps = np.zeros((n_scales, n_nodes))
    acc_not = np.zeros((n_scales, n_nodes))
    per_node = np.empty(n_nodes)
    total = 0.0
    for p in range(n_patterns):
        for q in range(n_nodes):
            per_node[q] = log_w[q]
        for s in range(n_scales):
            k, c = errors[p, s], correct[p, s]
            if k == 0.0 and c == 0.0:
                continue  # item not evaluated at this scale
            for q in range(n_nodes):
                per_node[q] += k * log_eps[s, q] + c * log_not[s, q]
        top = per_node.max()
        norm = 0.0
        for q in range(n_nodes):
            per_node[q] = np.exp(per_node[q] - top)
            norm += per_node[q]
        total += counts[p] * (top + np.log(norm) + log_binom[p])
        scale = counts[p] / norm
        for s in range(n_scales):
            k, c = errors[p, s], correct[p, s]
            if k == 0.0 and c == 0.0:
                continue
            for q in range(n_nodes):
                r = scale * per_node[q]
                acc_eps[s, q] += r * k
                acc_not[s, q] += r * c
    grad_mu = np.zeros(n_scales)
    grad_sigma = 0.0
    for s in range(n_scales):
        for q in range(n_nodes):
            d_eta = acc_eps[s, q] * dlog_eps[s, q] + acc_not[s, q] * log_not[s, q]
            grad_mu[s] += d_eta
            grad_sigma += d_eta * nodes[q]
    return total, grad_mu, grad_sigma


class MarginalItemLogLik(Op):
    """PyTensor Op: ``(mu, sigma) → (value, d/dmu, d/dsigma)`` of the marginal log-likelihood.

    Its gradient reuses the second and third outputs, so a ``logp_dlogp`` function evaluates the
    kernel once per point.
    """

    __props__ = ()

    def __init__(self, nodes, log_w, errors, correct, counts, log_binom):
        self.arrays = tuple(
            np.ascontiguousarray(a, dtype=np.float64)
            for a in (nodes, log_w, errors, correct, counts, log_binom)
        )
        super().__init__()

    def make_node(self, mu, sigma):
        mu = pt.as_tensor_variable(mu).astype("float64")
        sigma = pt.as_tensor_variable(sigma).astype("float64")
        return Apply(self, [mu, sigma], [pt.dscalar(), pt.dvector(), pt.dscalar()])

    def perform(self, node, inputs, output_storage):
        mu, sigma = inputs
        value, grad_mu, grad_sigma = marginal_loglik_and_grad(
            np.asarray(mu, dtype=np.float64), float(sigma), *self.arrays
        )
        output_storage[0][0] = np.asarray(value)
        output_storage[1][0] = grad_mu
        output_storage[2][0] = np.asarray(grad_sigma)

    def L_op(self, inputs, outputs, output_grads):
        g = output_grads[0]
        return [g * outputs[1], g * outputs[2]]

    # Ops with array attributes compare by identity: each model gets its own instance.
    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


@numba.njit(cache=True)
def _node_loglik(mu, sigma, nodes, log_w, errors, correct, out):
    """Fill ``out[p, q]``: log w[q] + log-likelihood of pattern ``p`` at node ``q`` (one draw)."""
    n_scales, n_nodes = mu.shape[0], nodes.shape[0]
    log_eps, log_not = _link_tables(mu, sigma, nodes)
    for p in range(errors.shape[0]):
        for q in range(n_nodes):
            out[p, q] = log_w[q]
        for s in range(n_scales):
            k, c = errors[p, s], correct[p, s]
            if k == 0.0 and c == 0.0:
                continue
            for q in range(n_nodes):
                out[p, q] += k * log_eps[s, q] + c * log_not[s, q]


@numba.njit(cache=True)
def pattern_loglik_draws(mu, sigma, nodes, log_w, errors, correct, log_binom):
    """Marginal log-likelihood of every pattern for every draw: ``(draws, patterns)``."""
    n_draws, n_patterns, n_nodes = mu.shape[0], errors.shape[0], nodes.shape[0]
    out = np.empty((n_draws, n_patterns))
    per_node = np.empty((n_patterns, n_nodes))
    for d in range(n_draws):
        _node_loglik(mu[d], sigma[d], nodes, log_w, errors, correct, per_node)
        for p in range(n_patterns):
            top = per_node[p].max()
            total = 0.0
            for q in range(n_nodes):
                total += np.exp(per_node[p, q] - top)
            out[d, p] = top + np.log(total) + log_binom[p]
    return out


@numba.njit(cache=True)
def sample_item_nodes(mu, sigma, nodes, log_w, errors, correct, pattern_of_item, uniforms):
    """For every draw and item, a grid node drawn from the item's conditional posterior.

    ``uniforms`` is ``(draws, items)``; returns node indices of the same shape.
    """
    n_draws, n_items = uniforms.shape
    n_patterns, n_nodes = errors.shape[0], nodes.shape[0]
    picks = np.empty((n_draws, n_items), dtype=np.int64)
    per_node = np.empty((n_patterns, n_nodes))
    for d in range(n_draws):
        _node_loglik(mu[d], sigma[d], nodes, log_w, errors, correct, per_node)
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
