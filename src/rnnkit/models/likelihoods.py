"""Output distributions for probabilistic forecasts: each step and series gets its own parameters from a
linear layer, as in DeepAR (Salinas et al. 2020).

    none        a point forecast mu; loss = (y - mu)^2 (mean squared error)
    gaussian    N(mu, sigma^2),  sigma = softplus(s) + 1e-3
    student_t   t_nu(mu, sigma), sigma = softplus(s) + 1e-3, nu = 2 + softplus(v)  (nu > 2: a finite variance)

``raw`` (..., P) holds the P = ``PARAMETERS[name]`` unconstrained values of each prediction; the loss is
the negative log-likelihood per value (for ``none``, the squared error).
"""

import torch
import torch.nn.functional as F
from torch import Tensor

LIKELIHOODS = ("none", "gaussian", "student_t")
PARAMETERS = {"none": 1, "gaussian": 2, "student_t": 3}
MIN_SCALE = 1e-3  # keeps the likelihood finite when a window is constant


def distribution(name: str, raw: Tensor, shift: Tensor):
    """The torch distribution of ``raw`` (..., P) with location mu + shift; None for ``none``."""
    loc = raw[..., 0] + shift
    if name == "none":
        return None
    scale = F.softplus(raw[..., 1]) + MIN_SCALE
    if name == "gaussian":
        return torch.distributions.Normal(loc, scale)
    return torch.distributions.StudentT(2.0 + F.softplus(raw[..., 2]), loc, scale)


def location(raw: Tensor, shift: Tensor) -> Tensor:
    return raw[..., 0] + shift


def loss(name: str, raw: Tensor, shift: Tensor, target: Tensor) -> Tensor:
    """Per-value loss (...,): squared error or negative log-likelihood."""
    if name == "none":
        return (target - location(raw, shift)) ** 2
    return -distribution(name, raw, shift).log_prob(target)


def quantiles(name: str, raw: Tensor, shift: Tensor, levels) -> Tensor:
    """The exact quantiles (..., Q) of a gaussian or student_t at ``levels`` (each in (0, 1)): mu + sigma z_q
    with z_q the standard Gaussian's or Student-t's (nu degrees of freedom) quantile. torch has no
    Student-t inverse CDF: scipy's, in float64, on the CPU."""
    levels = torch.as_tensor(levels, dtype=torch.float64)                          # (Q,)
    loc = location(raw, shift)[..., None]                                            # (..., 1)
    scale = (F.softplus(raw[..., 1]) + MIN_SCALE)[..., None]
    if name == "gaussian":
        z = torch.distributions.Normal(0.0, 1.0).icdf(levels)                       # (Q,)
    else:
        from scipy.stats import t

        nu = (2.0 + F.softplus(raw[..., 2])).double().cpu().numpy()[..., None]      # (..., 1)
        z = torch.from_numpy(t.ppf(levels.numpy(), nu))                             # (..., Q)
    return loc + scale * z.to(device=raw.device, dtype=raw.dtype)


def sample(name: str, raw: Tensor, shift: Tensor) -> Tensor:
    """One draw per value (...,); a point model returns its forecast."""
    if name == "none":
        return location(raw, shift)
    return distribution(name, raw, shift).sample()
