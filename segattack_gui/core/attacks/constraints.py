"""Per-pixel constraints of the minimal-norm attacks: "this pixel is predicted as its target".

A pixel i with logits z_i and target class T_i is won when its margin

    m_i = z_{i,T_i} - max_{c != T_i} z_{i,c}

is positive. ALMA prox and PDPGD write the goal as constraints g_i(x) <= 0 (satisfied = won)
and share the two helpers below.

``dlr_constraints``: the targeted difference-of-logits ratio of Croce and Hein (ICML 2020),
g_i = (kappa - m_i) / (z_(1) - (z_(3) + z_(4)) / 2), z_(k) the k-th largest logit: invariant to
the logits' scale, which is what lets one step size fit every model. It needs four classes.
A model with two or three classes (a binary segmenter) has no third and fourth logit, so
there the denominator is each item's mean logit range over its pixels, z_(1) - z_(K), taken
without gradient: still scale-invariant, one number per image. (adv-lib's ALMA prox calls
``topk(4)`` and fails on such models.) kappa > 0 asks for a margin, so an argmax tie is no win.
"""

from __future__ import annotations

import torch

from ..metrics import item_axes


def target_margins(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """m_i = z_{i,T_i} - max_{c != T_i} z_{i,c}, ``[B, h, w]``; positive where the target class wins."""
    target_logit = logits.gather(1, target.unsqueeze(1)).squeeze(1)
    others = logits.scatter(1, target.unsqueeze(1), float("-inf"))
    return target_logit - others.amax(1)


def dlr_constraints(logits: torch.Tensor, target: torch.Tensor, kappa: float) -> torch.Tensor:
    """g_i = (kappa - m_i) / scale_i, ``[B, h, w]``: at most 0 where pixel i is won by a margin kappa."""
    margins = target_margins(logits, target)
    classes = logits.shape[1]
    if classes >= 4:
        top = logits.topk(4, dim=1).values
        scale = top[:, 0] - (top[:, 2] + top[:, 3]) / 2
    else:
        spread = (logits.amax(1) - logits.amin(1)).detach()
        scale = spread.mean(item_axes(spread), keepdim=True).expand_as(margins)
    return (kappa - margins) / (scale + 1e-8)
