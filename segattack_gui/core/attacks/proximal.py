"""Proximity operators of the perturbation norms, exact, for the minimal-norm attacks.

The proximal step of ALMA prox and PDPGD solves, per item,

    prox(d) = argmin_z  1/2 ||z - d||_H^2 + lam ||z||  +  iota_[lower, upper](z),

with H a positive diagonal metric (all ones for plain Euclidean proximity) and the box
[lower, upper] = [-x_0, 1 - x_0] keeping x_0 + z an image.

**L-inf.** For a fixed radius t = ||z||_inf the problem separates by coordinate and its
solution is z_i = clip(clip(d_i, lower_i, upper_i), -t, t) (the box holds 0, so the two
clips commute with the sign). What is left is a convex function of t whose derivative is

    f'(t) = lam - sum_{i : a_i > t} H_i (|d_i| - t),      a_i = |clip(d_i, lower_i, upper_i)|,

piecewise linear and increasing (with upward jumps at the a_i of coordinates the box clips).
Where the set of coordinates clipped at radius t is fixed, its root is (S - lam) / W with
S = sum H_i |d_i| and W = sum H_i over that set; :func:`linf_radius` finds the set by
safeguarded Newton steps, a few passes over the image (adv-lib approximates the same radius by a
ternary search on f). With
H = 1 and no box this is the Moreau identity prox_{lam ||.||_inf}(d) = d - lam Proj_{B_1}(d / lam)
(the Euclidean projection onto the unit L1 ball, Duchi et al. 2008).

**L2.** prox_{lam ||.||_2}(d) = d * max(0, 1 - lam / ||d||_2) (block soft thresholding),
then the box.
"""

from __future__ import annotations

import torch

from ..metrics import l2_norms


_NEWTON_STEPS = 40
_CHECK_EVERY = 5  # Newton steps between looks at whether every item has converged (a host sync)


def linf_radius(delta: torch.Tensor, lam: torch.Tensor, weights: torch.Tensor | None = None,
                lower: torch.Tensor | None = None, upper: torch.Tensor | None = None) -> torch.Tensor:
    """The L-inf radius t* of :func:`prox_linf` for each item of ``delta`` ``[B, ...]`` (``lam``: ``[B]``).

    The root of the increasing f'(t) = lam - sum_{a_i > t} H_i (|d_i| - t) by safeguarded Newton:
    from a point lo left of the root, the step t = (S(lo) - lam) / W(lo) (S, W: the sums over the
    coordinates still clipped at lo) is the root of f' if no breakpoint a_i lies between, else a
    bisection of the bracket [lo, hi] replaces a step that leaves it. A few passes over the image
    instead of a sort; the answer is t = clip((S(lo) - lam) / W(lo), lo, hi) on the final bracket,
    exact once no breakpoint is left inside it (a root at a breakpoint, where f' jumps, is hi).
    """
    batch = delta.shape[0]
    flat = delta.reshape(batch, -1)
    magnitude = flat.abs()
    clipped = magnitude if lower is None else torch.maximum(torch.minimum(flat, upper.reshape(batch, -1)),
                                                            lower.reshape(batch, -1)).abs()
    h = None if weights is None else weights.reshape(batch, -1)
    weighted = magnitude if h is None else h * magnitude
    lam = lam.to(flat.dtype).reshape(batch)

    def sums(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """S(t), W(t) over the coordinates with a_i > t."""
        clipped_now = clipped > t.unsqueeze(1)
        mass = clipped_now.sum(1, dtype=flat.dtype) if h is None else torch.where(clipped_now, h, 0).sum(1)
        return torch.where(clipped_now, weighted, 0).sum(1), mass

    low = torch.zeros_like(lam)
    high = clipped.amax(1)
    low_sum, low_mass = sums(low)
    for step in range(_NEWTON_STEPS):
        newton = (low_sum - lam) / low_mass.clamp_min(1e-30)
        inside = (newton > low) & (newton < high)
        trial = torch.where(inside, newton, (low + high) / 2)
        trial_sum, trial_mass = sums(trial)
        below = lam + trial_mass * trial - trial_sum < 0  # f'(trial) < 0: the root lies above
        low = torch.where(below, trial, low)
        high = torch.where(below, high, trial)
        low_sum, low_mass = torch.where(below, trial_sum, low_sum), torch.where(below, trial_mass, low_mass)
        if (step + 1) % _CHECK_EVERY == 0:
            answer = ((low_sum - lam) / low_mass.clamp_min(1e-30)).clamp_min(0)
            between = (clipped > low.unsqueeze(1)) & (clipped < high.unsqueeze(1))  # breakpoints left inside
            settled = (answer <= high) & (answer >= low) & ~between.any(1)
            if bool(settled.all()):
                break
    radius = torch.minimum(torch.maximum((low_sum - lam) / low_mass.clamp_min(1e-30), low), high)
    # f'(0) >= 0: the prox is 0 (lam at least the weighted L1 norm); no coordinate at all: 0 too.
    return torch.where(lam >= (weighted * (clipped > 0)).sum(1), torch.zeros_like(radius), radius).clamp_min(0)


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
