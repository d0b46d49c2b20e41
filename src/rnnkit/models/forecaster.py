"""Recurrent forecasters: a window of C past steps in, K future steps of D series out.

Two kinds, both over any cell (LSTM, GRU, RNN), with an optional likelihood (likelihoods.py):

direct (an encoder with a multi-step head; the "MIMO" strategy of Ben Taieb et al. 2012):
    s = shift(past)                                 (B, 1, D)   per-window level: last value or mean
    x_t = [past_t - s, past_covariates_t]           (B, C, D + Fp)
    h = top layer's final state of RNN(x)           (B, H)
    u = [h, flatten(future_covariates)]             (B, H + K*Fk)
    raw = W_out MLP(u) + b_out                      (B, K, D, P)
    mu = raw[..., 0] + s (+ highway)                (B, K, D)
    highway (LSTNet's linear autoregressive part, Lai et al. 2018): W_ar (past_{C-a..C-1} - s) per
    series, the same weights for every series

autoregressive (DeepAR, Salinas et al. 2020): one step at a time, the previous value as input
    z_t = y_t - s                                   (B, C+K, D)
    x_t = [z_{t-1}, known_t]                        (B, C+K-1, D + Fk)
    raw_t = W_out RNN(x)_t + b_out                  (B, C+K-1, D, P)  the distribution of z_t
    training: teacher forcing, loss over every step t = 1 .. C+K-1 (GluonTS's DeepAR)
    forecasting: run the context, then draw z_C, feed it back, draw z_{C+1}, ... (S sample paths)

``shift`` is instance normalization without a scale (RevIN, Kim et al. 2022; NLinear, Zeng et al. 2023):
windows at different levels look alike to the network, which matters on drifting series such as ETT.
The loss is the mean over K*D values (C+K-1 steps for autoregressive) of the squared error or the
negative log-likelihood.
"""

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from ..cells.state import as_parts
from ..layers import Recurrent, RecurrentOptions
from . import likelihoods
from .likelihoods import LIKELIHOODS, PARAMETERS

KINDS = ("direct", "autoregressive")
NORMALIZATIONS = ("none", "last", "mean")


@dataclass(frozen=True)
class ForecasterConfig(RecurrentOptions):
    # the recurrent layer's options (layers/config.py), with this task's defaults
    cell: str = "gru"
    hidden_size: int = 64           # H
    num_layers: int = 2             # L
    dropout: float = 0.1            # between recurrent layers
    # the model's own
    kind: str = "direct"            # direct (multi-step head) or autoregressive (DeepAR)
    likelihood: str = "none"        # none (point forecast, squared error), gaussian or student_t
    normalize: str = "last"         # per-window shift: none, last (the last context value) or mean
    highway: int = 0                # direct: LSTNet's linear part over the last `highway` values; 0 = off
    head_hidden: int = 0            # direct: a hidden layer (ReLU) in the head; 0 = linear head
    num_samples: int = 100          # sample paths of a probabilistic forecast
    head_dropout: float = 0.0       # on the head's input

    WHOLE = RecurrentOptions.WHOLE + ("num_samples",)
    RATES = RecurrentOptions.RATES + ("head_dropout",)

    def __post_init__(self):
        super().__post_init__()
        for name, allowed in (("kind", KINDS), ("likelihood", LIKELIHOODS), ("normalize", NORMALIZATIONS)):
            if getattr(self, name) not in allowed:
                raise self.invalid(name, f"one of {allowed}")
        for name in ("highway", "head_hidden"):
            if getattr(self, name) < 0:
                raise self.invalid(name, "an integer >= 0")
        if self.kind == "autoregressive" and (self.highway or self.head_hidden):
            raise ValueError("model.highway and model.head_hidden are for model.kind=direct")
        if self.kind == "autoregressive" and self.bidirectional:
            raise self.invalid("bidirectional", "false for model.kind=autoregressive: it steps forward through the "
                                                "horizon, feeding back its own forecasts")

    @property
    def probabilistic(self) -> bool:
        return self.likelihood != "none"


class Forecaster(nn.Module):
    """Batches are dicts: past (B, C, D), past_covariates (B, C, Fp), future_covariates (B, K, Fk) and,
    for the loss, future (B, K, D). For ``autoregressive`` the past covariates must be the known ones
    (Fp = Fk): a value that is only observed cannot be fed forward into the horizon."""

    def __init__(self, config: ForecasterConfig, num_series: int, context: int, horizon: int,
                 past_features: int = 0, future_features: int = 0):
        super().__init__()
        if config.highway > context:
            raise ValueError(f"model.highway={config.highway} is longer than data.context={context}")
        if config.kind == "autoregressive" and past_features != future_features:
            raise ValueError("model.kind=autoregressive cannot use past-only covariates (their future values "
                             "are unknown when it feeds its forecasts back): use model.kind=direct, or give "
                             "them as future covariates if they are known in advance")
        self.config, self.num_series, self.context, self.horizon = config, num_series, context, horizon
        self.past_features, self.future_features = past_features, future_features
        D, K, P = num_series, horizon, PARAMETERS[config.likelihood]
        H = config.num_directions * config.output_size  # the top layer's final h, both directions
        if config.kind == "direct":
            self.rnn = Recurrent(config.recurrent_config(D + past_features))
            layers = [nn.Dropout(config.head_dropout)]
            width = H + K * future_features
            if config.head_hidden:
                layers += [nn.Linear(width, config.head_hidden), nn.ReLU()]
                width = config.head_hidden
            self.head = nn.Sequential(*layers, nn.Linear(width, K * D * P))
            self.highway = nn.Linear(config.highway, K) if config.highway else None
        else:
            self.rnn = Recurrent(config.recurrent_config(D + future_features))
            self.head = nn.Linear(H, D * P)
            self.highway = None

    # --- the window's level ------------------------------------------------------------------------
    def shift(self, past: Tensor) -> Tensor:
        """(B, 1, D): what is subtracted from the window and added back to the forecast."""
        if self.config.normalize == "last":
            return past[:, -1:]
        if self.config.normalize == "mean":
            return past.mean(1, keepdim=True)
        return torch.zeros_like(past[:, :1])

    # --- direct --------------------------------------------------------------------------------------
    def _direct(self, batch) -> tuple:
        """(raw (B, K, D, P), shift (B, K, D)) with the highway folded into the shift."""
        past = batch["past"]                                          # (B, C, D)
        B, D, K = past.shape[0], self.num_series, self.horizon
        s = self.shift(past)                                          # (B, 1, D)
        x = torch.cat([past - s, batch["past_covariates"]], -1)       # (B, C, D + Fp)
        _, state = self.rnn(x)
        h = torch.cat(list(as_parts(state)[0][-self.config.num_directions:]), -1)  # (B, N*H) the top layer
        u = torch.cat([h, batch["future_covariates"].reshape(B, -1)], -1)
        raw = self.head(u).view(B, K, D, -1)                          # (B, K, D, P)
        shift = s.expand(B, K, D)
        if self.highway is not None:
            recent = (past - s)[:, -self.config.highway:]             # (B, a, D)
            shift = shift + self.highway(recent.transpose(1, 2)).transpose(1, 2)  # (B, K, D)
        return raw, shift

    # --- autoregressive ------------------------------------------------------------------------------
    def _teacher_forced(self, batch) -> tuple:
        """(raw (B, C+K-1, D, P), normalized targets z_1.. (B, C+K-1, D))."""
        past, future = batch["past"], batch["future"]
        z = torch.cat([past, future], 1) - self.shift(past)                                   # (B, C+K, D)
        known = torch.cat([batch["past_covariates"], batch["future_covariates"]], 1)          # (B, C+K, Fk)
        y, _ = self.rnn(torch.cat([z[:, :-1], known[:, 1:]], -1))
        B, T = y.shape[:2]
        return self.head(y).view(B, T, self.num_series, -1), z[:, 1:]

    @torch.no_grad()
    def _sample_paths(self, batch, num_samples: int) -> Tensor:
        """(S, B, K, D) sample paths (one deterministic path for a point model)."""
        past = batch["past"]
        B, C, D = past.shape
        s = self.shift(past)                                                                  # (B, 1, D)
        z = past - s
        known = torch.cat([batch["past_covariates"], batch["future_covariates"]], 1)          # (B, C+K, Fk)
        state = None
        if C > 1:
            _, state = self.rnn(torch.cat([z[:, :-1], known[:, 1:C]], -1))
        S = num_samples if self.config.probabilistic else 1
        if state is not None:  # (L, B, H) -> (L, B*S, H): sample j of window b at row b*S + j
            state = (type(state)(*(p.repeat_interleave(S, 1) for p in state)) if isinstance(state, tuple)
                     else state.repeat_interleave(S, 1))
        previous = z[:, -1].repeat_interleave(S, 0)                                           # (B*S, D)
        known = known.repeat_interleave(S, 0)                                                 # (B*S, C+K, Fk)
        zeros = past.new_zeros(B * S, D)
        draws = []
        for k in range(self.horizon):
            y, state = self.rnn.step(torch.cat([previous, known[:, C + k]], -1), state)
            raw = self.head(y).view(B * S, D, -1)
            previous = likelihoods.sample(self.config.likelihood, raw, zeros)                # (B*S, D)
            draws.append(previous)
        paths = torch.stack(draws, 1).view(B, S, self.horizon, D) + s[:, None]               # (B, S, K, D)
        return paths.transpose(0, 1)

    # --- the Trainer's and the task's view --------------------------------------------------------------
    def loss(self, batch, carry=None):
        """(mean loss, number of values, None)."""
        loss, count, _ = self.loss_and_mean(batch)
        return loss, count, None

    def loss_and_mean(self, batch):
        """(mean loss, number of values, the mean forecast (B, K, D) or None): for a direct model the
        forecast comes from the same forward pass (validation needs both); autoregressive: None."""
        name = self.config.likelihood
        if self.config.kind == "direct":
            raw, shift = self._direct(batch)
            values = likelihoods.loss(name, raw, shift, batch["future"])
            return values.mean(), values.numel(), likelihoods.location(raw, shift)
        raw, targets = self._teacher_forced(batch)
        values = likelihoods.loss(name, raw, torch.zeros_like(targets), targets)
        return values.mean(), values.numel(), None

    @torch.no_grad()
    def forecast(self, batch, num_samples: Optional[int] = None, levels=()) -> dict:
        """{"mean": (B, K, D), "samples": (S, B, K, D) or None, "quantiles": (B, K, D, Q) or None} in the
        units of the batch. A direct Gaussian or Student-t forecast's mean is its location and its
        quantiles at ``levels`` are exact (its samples still give CRPS); an autoregressive forecast's
        come from its sample paths, by whoever reads them."""
        S = num_samples or self.config.num_samples
        name = self.config.likelihood
        if self.config.kind == "direct":
            raw, shift = self._direct(batch)
            mean = likelihoods.location(raw, shift)
            if not self.config.probabilistic:
                return {"mean": mean, "samples": None, "quantiles": None}
            exact = likelihoods.quantiles(name, raw, shift, levels) if len(levels) else None
            return {"mean": mean, "samples": likelihoods.distribution(name, raw, shift).sample((S,)),
                    "quantiles": exact}
        paths = self._sample_paths(batch, S)
        if not self.config.probabilistic:
            return {"mean": paths[0], "samples": None, "quantiles": None}
        return {"mean": paths.mean(0), "samples": paths, "quantiles": None}
