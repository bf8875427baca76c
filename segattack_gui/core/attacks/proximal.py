"""Proximity operators of the perturbation norms, exact, for the minimal-norm attacks.

The proximal step of ALMA prox and PDPGD solves, per item,

    prox(d) = argmin_z  1/2 ||z - d||_H^2 + lam ||z||  +  iota_[lower, upper](z),

with H a positive diagonal metric (all ones for plain Euclidean proximity) and the box
[lower, upper] = [-x_0, 1 - x_0] keeping x_0 + z an image.

**L-inf.** For a fixed radius t = ||z||_inf the problem separates by coordinate and its
solution is z_i = clip(clip(d_i, lower_i, upper_i), -t, t) (the box holds 0, so the two
clips commute with the sign). What is left is a convex function of t whose derivative is

    f'(t) = lam - sum_{i : a_i > t} H_i (|d_i| - t),      a_i = |clip(d_i, lower_i, upper_i)|,

piecewise linear and increasing. With the a_i sorted in decreasing order and the cumulative
sums S_k = sum_{j<=k} H_j |d_j| and W_k = sum_{j<=k} H_j, the root lies where the k
largest coordinates are clipped: t* = max(0, (S_k - lam) / W_k) with k the number of
breakpoints where f' is still positive, f'(a_k) = lam + a_k W_{k-1} - S_{k-1} > 0. One sort
per item gives the exact prox (adv-lib reaches it approximately, by a ternary search). With
H = 1 and no box this is the Moreau identity prox_{lam ||.||_inf}(d) = d - lam Proj_{B_1}(d / lam)
(the Euclidean projection onto the unit L1 ball, Duchi et al. 2008).

**L2.** prox_{lam ||.||_2}(d) = d * max(0, 1 - lam / ||d||_2) (block soft thresholding),
then the box.
"""

from __future__ import annotations

import torch

from ..metrics import l2_norms


def linf_radius(delta: torch.Tensor, lam: torch.Tensor, weights: torch.Tensor | None = None,
                lower: torch.Tensor | None = None, upper: torch.Tensor | None = None) -> torch.Tensor:
    """The L-inf radius t* of :func:`prox_linf` for each item of ``delta`` ``[B, ...]`` (``lam``: ``[B]``)."""
    batch = delta.shape[0]
    flat = delta.reshape(batch, -1)
    clipped = flat if lower is None else torch.maximum(torch.minimum(flat, upper.reshape(batch, -1)),
                                                       lower.reshape(batch, -1))
    breakpoints, order = clipped.abs().sort(dim=1, descending=True)
    h = torch.ones_like(flat) if weights is None else weights.reshape(batch, -1).gather(1, order)
    weighted = h * flat.abs().gather(1, order)
    sums, masses = weighted.cumsum(1), h.cumsum(1)
    previous_sums = sums - weighted  # S_{k-1}, W_{k-1}
    previous_masses = masses - h
    lam = lam.reshape(batch, 1).to(flat.dtype)
    still_rising = lam + breakpoints * previous_masses - previous_sums > 0  # f'(a_k) > 0
    count = still_rising.sum(1, keepdim=True).clamp(min=1)  # k; f'(a_1) = lam > 0 always
    radius = (sums.gather(1, count - 1) - lam) / masses.gather(1, count - 1).clamp_min(1e-30)
    return radius.clamp_min(0).squeeze(1)


def prox_linf(delta: torch.Tensor, lam: torch.Tensor, weights: torch.Tensor | None = None,
              lower: torch.Tensor | None = None, upper: torch.Tensor | None = None) -> torch.Tensor:
    """argmin_z 1/2 ||z - delta||_H^2 + lam ||z||_inf (+ the box), exactly, per item."""
    radius = linf_radius(delta, lam, weights, lower, upper).view(-1, *([1] * (delta.ndim - 1)))
    inside = delta if lower is None else torch.maximum(torch.minimum(delta, upper), lower)
    return torch.minimum(torch.maximum(inside, -radius), radius)


def prox_l2(delta: torch.Tensor, lam: torch.Tensor, lower: torch.Tensor | None = None,
            upper: torch.Tensor | None = None) -> torch.Tensor:
    """Block soft thresholding d * max(0, 1 - lam / ||d||_2), then the box."""
    length = l2_norms(delta)
    shrink = (1 - lam.to(length.dtype) / length.clamp_min(1e-30)).clamp_min(0)
    shrunk = delta * shrink.view(-1, *([1] * (delta.ndim - 1)))
    return shrunk if lower is None else torch.maximum(torch.minimum(shrunk, upper), lower)
