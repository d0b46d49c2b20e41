"""The statistical forecasting baselines, ARIMA and ETS, on statsmodels (the Baseline interface and the
simple methods are in baselines.py). Notation as there: y the column, o the forecast origin, k = 0..K-1.

    arima   SARIMAX(p,d,q)(P,D,Q)_m, estimated once by maximum likelihood on the training span; with no
            differencing at all a constant is included (like R's Arima, include.mean = TRUE). Each
            forecast is the Kalman filter of the fitted model over values[max(0, o - history):o]
            (history = 0: all of values[:o]) followed by its k-step prediction; no refitting.
    ets     ETS(A, Ad or N, A/M/N) (Hyndman et al. 2008, Forecasting with Exponential Smoothing),
            statsmodels' ETSModel estimated once; each forecast runs the fitted smoothing equations
            over the history, from the fitted initial states, then forecasts from the last state.

Fast exact routes (ETTh1-like benchmark: 2,857 origins, K = 24, m = 24; statsmodels'
``results.apply(window).get_forecast(K)`` costs about 60 ms per origin for SARIMAX(1,1,1)(0,1,1)_24 on
336 rows, and seconds per origin on the whole prefix). With the parameters fixed and no values missing,
the Kalman filter's covariances and gains do not depend on the data, so:
  * all of values[:o]: one filter pass over the column (in chunks, each started from the previous one's
    predicted state and covariance) gives the predicted state a_o and covariance P_o at every origin;
  * a window of ``history`` rows: the predicted state after the window is an affine function of the
    window, a_h = sum_t Phi(h, t+1) K_t y_t + const with Phi(h, t+1) = L_{h-1}..L_{t+1},
    L_t = T - K_t Z, from the gains K_t of one filter run; every origin is then one matrix product,
    and P_h is shared by all origins.
From (a, P): mean_k = Z T^k a + Z sum_{j<k} T^j c + d,
var_k = Z T^k P (Z T^k)' + sum_{j<k} Z T^j R Q R' (Z T^j)' + H (Durbin & Koopman 2012, Time Series
Analysis by State Space Methods, chapter 4, forecasting).
Both routes equal statsmodels' own forecast on the same history (tests/models/test_baselines.py).
Measured on ETTh1 (8,640 training rows, 2,857 origins, 2 shared CPU cores): 0.01-0.02 ms per origin
with history = 336 and 0.2 ms per origin with all rows, against about 60 ms and 2.8 s per origin through
``results.apply``; the one-off fit, 13-40 s per column, is what costs.
ETS's smoothing equations run vectorized over origins, in numpy (under 0.05 ms per origin there).
"""

import math
import warnings as warnings_module
from typing import List

import numpy as np

from .baselines import Baseline


# --- ARIMA ---------------------------------------------------------------------------------------------

def _fit_quietly(fit, warnings_out: List[str]):
    """Run a statsmodels fit, recording its ConvergenceWarnings in ``warnings_out`` instead of printing
    them; other warnings are raised again."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings_module.catch_warnings(record=True) as caught:
        warnings_module.simplefilter("always")
        result = fit()
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            warnings_out.append(str(w.message))
        else:
            warnings_module.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


class Arima(Baseline):
    name = "arima"

    def _fit(self, train):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        c = self.config
        seasonal = (*c.seasonal_order, c.season) if c.season > 1 else (0, 0, 0, 0)
        trend = "c" if c.arima_order[1] == 0 and seasonal[1] == 0 else "n"
        model = SARIMAX(train, order=c.arima_order, seasonal_order=seasonal, trend=trend)
        # low_memory: no smoothed states kept (about 2 GB per hourly column with a 24-step season, all of
        # them held while several columns are compared); forecasting needs only the parameters
        self.results = _fit_quietly(lambda: model.fit(disp=False, low_memory=True), self.warnings)
        system = self._filter(train[:1])   # the state-space matrices at the fitted parameters
        self.Z = system.design[0, :, 0]                                          # (m,)
        self.T = system.transition[:, :, 0]                                      # (m, m)
        self.c = system.state_intercept[:, 0]                                    # (m,)
        self.d = float(system.obs_intercept[0, 0])
        self.H = float(system.obs_cov[0, 0, 0])
        R = system.selection[:, :, 0]
        self.RQR = R @ system.state_cov[:, :, 0] @ R.T                           # (m, m)

    def _filter(self, endog, initial=None, gains=False):
        """statsmodels' Kalman filter of the fitted model over ``endog``, from its default initialization
        or from ``initial`` = (a, P)."""
        from statsmodels.tsa.statespace import kalman_filter as kf

        model = self.results.model.clone(endog)
        if initial is not None:
            model.ssm.initialize_known(*initial)
        memory = kf.MEMORY_NO_FILTERED | kf.MEMORY_NO_LIKELIHOOD | kf.MEMORY_NO_SMOOTHING | kf.MEMORY_NO_FORECAST
        if not gains:
            memory |= kf.MEMORY_NO_GAIN
        return model.filter(self.results.params, return_ssm=True, conserve_memory=memory)

    def _steps(self, horizon):
        """Z T^k (K, m), the intercepts Z sum_{j<k} T^j c + d (K,) and the noise variance accrued by step
        k, sum_{j<k} Z T^j RQR' (Z T^j)' + H (K,)."""
        m = len(self.Z)
        loadings, offsets, noise = np.empty((horizon, m)), np.empty(horizon), np.empty(horizon)
        z, drift, accrued = self.Z.copy(), np.zeros(m), 0.0
        for k in range(horizon):
            loadings[k], offsets[k], noise[k] = z, self.Z @ drift + self.d, accrued + self.H
            accrued += z @ self.RQR @ z
            z, drift = z @ self.T, self.T @ drift + self.c
        return loadings, offsets, noise

    def _forecast(self, values, origins, horizon):
        loadings, offsets, noise = self._steps(horizon)
        mean, var = np.empty((len(origins), horizon)), np.empty((len(origins), horizon))
        history = self.config.history
        prefix = (origins <= history) | (history == 0)
        if prefix.any():
            states, covariances = self._prefix_states(values, origins[prefix])   # (W', m), (W', m, m)
            mean[prefix] = states @ loadings.T + offsets
            var[prefix] = np.einsum("km,wmn,kn->wk", loadings, covariances, loadings) + noise
        if (~prefix).any():
            weights, constant, covariance = self._window_map(values[:history], loadings)
            windows = np.lib.stride_tricks.sliding_window_view(values, history)[origins[~prefix] - history]
            mean[~prefix] = windows @ weights.T + constant + offsets             # (W'', K)
            var[~prefix] = np.einsum("km,mn,kn->k", loadings, covariance, loadings) + noise
        return mean, np.sqrt(np.maximum(var, 0.0))

    def _prefix_states(self, values, origins):
        """Predicted state and covariance at each origin from one filter pass over values[:max(origins)],
        in chunks small enough that the stored covariances stay near 32 MB."""
        m = len(self.Z)
        chunk = max(512, 4_000_000 // (m * m))
        order = np.argsort(origins, kind="stable")
        states, covariances = np.empty((len(origins), m)), np.empty((len(origins), m, m))
        start, initial, position = 0, None, 0
        while position < len(order):
            end = min(start + chunk, int(origins[order[-1]]))
            result = self._filter(values[start:end], initial)
            while position < len(order) and origins[order[position]] <= end:
                i = order[position]
                states[i] = result.predicted_state[:, origins[i] - start]
                covariances[i] = result.predicted_state_cov[:, :, origins[i] - start]
                position += 1
            initial = (result.predicted_state[:, -1].copy(), result.predicted_state_cov[:, :, -1].copy())
            start = end
        return states, covariances

    def _window_map(self, window, loadings):
        """The affine map from a window of h values to the k-step state loadings, a_h = A y + b, returned
        as (Z T^k A (K, h), Z T^k b (K,)), and the predicted covariance after the window P_h (m, m)."""
        result = self._filter(window, gains=True)   # gains and covariances do not depend on the values
        h = len(window)
        gain = result.kalman_gain[:, 0, :]                                        # (m, h)
        G = loadings.copy()                                                        # (K, m): Z T^k Phi(h, t+1)
        weights, constant = np.empty((len(loadings), h)), np.zeros(len(loadings))
        for t in range(h - 1, -1, -1):
            weights[:, t] = G @ gain[:, t]
            constant += G @ (self.c - gain[:, t] * self.d)
            G = G @ (self.T - np.outer(gain[:, t], self.Z))
        constant += G @ result.predicted_state[:, 0]
        return weights, constant, result.predicted_state_cov[:, :, h]


# --- ETS -----------------------------------------------------------------------------------------------

class Ets(Baseline):
    """ETS with additive errors. Per step, with L = l + phi b, S the seasonal state one season back and
    e = y - yhat (Hyndman et al. 2008, chapter 2; statsmodels' ETSModel):
        additive season        yhat = L + S,  l = L + alpha e,    b = phi b + beta e,    s = S + gamma e
        multiplicative season  yhat = L S,    l = L + alpha e/S,  b = phi b + beta e/S,
                               s = S + gamma* (y / l - S),  gamma* = gamma / (1 - alpha)
    The multiplicative seasonal update is Holt-Winters' smoothing form with the new level l, as
    statsmodels' ETSModel smooths (and so fits); Hyndman et al.'s state-space form, s = S + gamma e/L,
    differs slightly. Matching statsmodels keeps the forecasts consistent with the fitted parameters.
    Forecast h steps after the last state: (l + (phi + .. + phi^h) b) (+ or *) the seasonal state of the
    target's phase. Each window (``history`` > 0) starts from the fitted initial level and trend, with the
    fitted initial seasonal state of each phase: the states of the training span's start, which the window
    forgets slowly, each seasonal state being updated once a season (ETTh1 HUFL, history 336: MSE 91
    against 61 with every row), so history = 0, which costs no more here, is the better choice for ETS.

    Intervals: additive or no season use the analytic class-1 variance (Hyndman et al. 2008, chapter 6)
        sd_h = sigma sqrt(1 + sum_{j=1}^{h-1} c_j^2),  c_j = alpha + beta (phi + .. + phi^j) + gamma [j mod m = 0]
    A multiplicative season has no such formula (statsmodels simulates); there sd_h = sigma sqrt(h), the
    naive method's growth, an approximation. sigma^2 = mean squared training residual (statsmodels' scale).
    """

    name = "ets"

    def _fit(self, train):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        c = self.config
        self.m = c.season if c.season > 1 and c.ets_seasonal != "none" else 1
        self.multiplicative = self.m > 1 and c.ets_seasonal == "mul"
        if self.multiplicative and np.any(train <= 0):
            raise ValueError("baselines.ets_seasonal='mul': expected strictly positive training values")
        trend = c.ets_trend == "add"
        model = ETSModel(train, error="add", trend="add" if trend else None, damped_trend=trend,
                         seasonal=c.ets_seasonal if self.m > 1 else None,
                         seasonal_periods=self.m if self.m > 1 else None)
        self.results = results = _fit_quietly(lambda: model.fit(disp=False), self.warnings)
        self.alpha = float(results.smoothing_level)
        self.beta = float(results.smoothing_trend) if trend else 0.0
        self.phi = float(results.damping_trend) if trend else 1.0
        self.gamma = float(results.smoothing_seasonal) if self.m > 1 else 0.0
        self.gamma_star = self.gamma / (1 - self.alpha) if self.alpha < 1 else 0.0  # gamma <= 1 - alpha
        self.level0 = float(results.initial_level)
        self.trend0 = float(results.initial_trend) if trend else 0.0
        # statsmodels' initial_seasonal[j] is s_{j-m}, the state of phase j before the first value
        self.seasonal0 = (np.asarray(results.initial_seasonal, dtype=np.float64) if self.m > 1
                          else np.zeros(1))                                       # (m,)
        self.sigma = math.sqrt(float(results.scale))

    def _run(self, y, start, record=None):
        """The smoothing equations over rows of y (W, n) that begin at global times ``start`` (W,), from
        the fitted initial states. Returns (level, trend, seasonal (.., m) indexed by global phase) after
        the last step, or, with ``record`` (sorted step counts, W = 1), after each of those steps."""
        W, n = y.shape
        rows = np.arange(W)
        level, trend = np.full(W, self.level0), np.full(W, self.trend0)
        seasonal = np.tile(self.seasonal0, (W, 1))                                # (W, m)
        kept, r = [], 0
        for i in range(n):
            phase = (start + i) % self.m
            S = seasonal[rows, phase]
            damped = self.phi * trend
            L = level + damped
            if self.multiplicative:
                error = y[:, i] - L * S
                level, trend = L + self.alpha * error / S, damped + self.beta * error / S
                seasonal[rows, phase] = S + self.gamma_star * (y[:, i] / level - S)
            else:
                error = y[:, i] - (L + S)
                level, trend = L + self.alpha * error, damped + self.beta * error
                seasonal[rows, phase] = S + self.gamma * error
            while record is not None and r < len(record) and record[r] == i + 1:
                kept.append((level[0], trend[0], seasonal[0].copy()))
                r += 1
        if record is None:
            return level, trend, seasonal
        return (np.array([s[0] for s in kept]), np.array([s[1] for s in kept]),
                np.stack([s[2] for s in kept]))

    def _forecast(self, values, origins, horizon):
        W, m = len(origins), self.m
        level, trend, seasonal = np.empty(W), np.empty(W), np.empty((W, m))
        history = self.config.history
        prefix = (origins <= history) | (history == 0)
        if prefix.any():
            unique, inverse = np.unique(origins[prefix], return_inverse=True)
            states = self._run(values[None, :unique[-1]], np.zeros(1, dtype=np.int64), record=unique)
            level[prefix], trend[prefix], seasonal[prefix] = (s[inverse] for s in states)
        if (~prefix).any():
            starts = origins[~prefix] - history
            windows = np.lib.stride_tricks.sliding_window_view(values, history)[starts]    # (W'', history)
            level[~prefix], trend[~prefix], seasonal[~prefix] = self._run(windows, starts)
        h = np.arange(1, horizon + 1)
        damping = np.cumsum(self.phi ** h)                                        # phi + .. + phi^h  (K,)
        base = level[:, None] + damping * trend[:, None]                          # (W, K)
        target = seasonal[np.arange(W)[:, None], (origins[:, None] + h - 1) % m]  # (W, K)
        mean = base * target if self.multiplicative else base + target
        if self.multiplicative:
            sd = self.sigma * np.sqrt(h)
        else:
            c = self.alpha + self.beta * damping[:-1] + self.gamma * (h[:-1] % m == 0) * (m > 1)  # c_1..c_{K-1}
            sd = self.sigma * np.sqrt(1 + np.concatenate([[0.0], np.cumsum(c ** 2)]))
        return mean, np.broadcast_to(sd, mean.shape)
