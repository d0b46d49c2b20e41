"""The forecasters: losses against their definitions, no look-ahead, the level shift, exact quantiles of
a direct forecast, and the autoregressive model's sampler against its own teacher-forced equations."""

import pytest
import torch

from rnnkit.models import likelihoods
from rnnkit.models.forecaster import Forecaster, ForecasterConfig


def batch(B=3, C=8, K=4, D=2, Fp=3, Fk=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"past": torch.randn(B, C, D, generator=g), "past_covariates": torch.randn(B, C, Fp, generator=g),
            "future_covariates": torch.randn(B, K, Fk, generator=g), "future": torch.randn(B, K, D, generator=g)}


def model(kind="direct", likelihood="none", Fp=3, Fk=1, **options):
    torch.manual_seed(0)
    config = ForecasterConfig(kind=kind, likelihood=likelihood, hidden_size=8, num_layers=2, dropout=0.0, **options)
    return Forecaster(config, num_series=2, context=8, horizon=4, past_features=Fp, future_features=Fk).eval()


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn_tanh"])
def test_point_loss_is_the_mean_squared_error_of_the_forecast(cell):
    m, b = model(cell=cell, highway=3), batch()
    loss, count, carry = m.loss(b)
    assert count == 3 * 4 * 2 and carry is None
    torch.testing.assert_close(loss, ((m.forecast(b)["mean"] - b["future"]) ** 2).mean())


@pytest.mark.parametrize("likelihood", ["gaussian", "student_t"])
def test_likelihood_loss_is_the_negative_log_density(likelihood):
    m, b = model(likelihood=likelihood), batch()
    raw, shift = m._direct(b)
    loc = raw[..., 0] + shift
    scale = torch.nn.functional.softplus(raw[..., 1]) + 1e-3
    if likelihood == "gaussian":
        z = (b["future"] - loc) / scale
        nll = 0.5 * z ** 2 + scale.log() + 0.5 * torch.log(torch.tensor(2 * torch.pi))
    else:
        nu = 2 + torch.nn.functional.softplus(raw[..., 2])
        nll = -torch.distributions.StudentT(nu, loc, scale).log_prob(b["future"])
    torch.testing.assert_close(m.loss(b)[0], nll.mean())


def test_forecast_ignores_the_future_targets_and_the_past_after_the_context():
    for kind, likelihood in (("direct", "gaussian"), ("autoregressive", "none")):
        m = model(kind, likelihood, Fp=1, Fk=1)
        b = batch(Fp=1, Fk=1)
        first = m.forecast(b, 5)["mean"]
        b["future"] = b["future"] + 100.0  # what actually happened must not leak into the forecast
        torch.testing.assert_close(m.forecast(b, 5)["mean"], first)


def test_last_value_normalization_makes_the_forecast_follow_the_level():
    """With normalize=last and no covariates, adding c to the whole history adds c to the forecast."""
    for kind in ("direct", "autoregressive"):
        m = model(kind, "none", Fp=0, Fk=0, normalize="last")
        b = batch(Fp=0, Fk=0)
        moved = dict(b, past=b["past"] + 7.5)
        torch.testing.assert_close(m.forecast(moved)["mean"], m.forecast(b)["mean"] + 7.5, atol=1e-5, rtol=0)


def test_autoregressive_sampler_feeds_its_forecasts_back_as_teacher_forcing_would():
    """The recursive point forecast is a fixed point of the teacher-forced equations: fed its own
    forecast as the future, the teacher-forced predictions of the horizon are that forecast."""
    m, b = model("autoregressive", "none", Fp=1, Fk=1), batch(Fp=1, Fk=1)
    path = m.forecast(b)["mean"]                                  # (B, K, D)
    raw, _ = m._teacher_forced(dict(b, future=path))              # (B, C+K-1, D, 1), normalized
    shift = b["past"][:, -1:]
    torch.testing.assert_close(raw[:, -4:, :, 0] + shift, path, atol=1e-5, rtol=1e-5)


def test_sample_paths_have_the_right_shape_and_spread():
    m = model("autoregressive", "gaussian", Fp=1, Fk=1)
    out = m.forecast(batch(Fp=1, Fk=1), num_samples=50)
    assert out["samples"].shape == (50, 3, 4, 2)
    assert (out["samples"].std(0) > 0).all()
    torch.testing.assert_close(out["mean"], out["samples"].mean(0))


@pytest.mark.parametrize("likelihood", ["gaussian", "student_t"])
def test_direct_quantiles_are_exact(likelihood):
    """A direct forecast's quantiles are its distribution's (scipy's ppf at the same parameters), the median
    is the point forecast, and 40,000 sample paths agree within their Monte Carlo error (a Gaussian z in
    place of Student-t's would be off by several times that in the 5% tail)."""
    from scipy import stats

    m, b, levels = model(likelihood=likelihood), batch(), [0.05, 0.5, 0.9]
    torch.manual_seed(1)
    with torch.no_grad():
        out = m.forecast(b, 40_000, levels)
        dist = likelihoods.distribution(likelihood, *m._direct(b))
    q = out["quantiles"]                                                                  # (B, K, D, Q)
    assert q.shape == (3, 4, 2, 3)
    loc, scale = dist.loc.double().numpy()[..., None], dist.scale.double().numpy()[..., None]
    z = stats.norm.ppf(levels) if likelihood == "gaussian" else stats.t.ppf(levels, dist.df.double().numpy()[..., None])
    torch.testing.assert_close(q.double(), torch.from_numpy(loc + scale * z), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(q[..., 1], out["mean"])
    empirical = torch.quantile(out["samples"], torch.tensor(levels), dim=0).movedim(0, -1)
    assert ((empirical - q).abs() <= 0.1 * dist.scale[..., None]).all()  # about 5 standard errors
    assert model().forecast(b, levels=levels)["quantiles"] is None                        # a point model


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="model.likelihood"):
        ForecasterConfig(likelihood="poisson")
    with pytest.raises(ValueError, match="model.highway"):
        ForecasterConfig(kind="autoregressive", highway=4)
    with pytest.raises(ValueError, match="past-only covariates"):
        Forecaster(ForecasterConfig(kind="autoregressive"), 1, 8, 4, past_features=3, future_features=1)
    with pytest.raises(ValueError, match="model.highway=9"):
        Forecaster(ForecasterConfig(highway=9), 1, 8, 4)
