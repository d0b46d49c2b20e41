"""Windows at forecast origins, the transforms and the scaler."""

import numpy as np
import pytest

from rnnkit.data.text import DataError
from rnnkit.data.windows import Scaler, Windows, apply_transform, invert_transform, origins


def test_a_window_holds_the_context_before_the_origin_and_the_horizon_from_it():
    T = 20
    targets = np.arange(T, dtype=float)[:, None] * np.array([[1.0, 10.0]])     # (T, 2)
    past, known = np.arange(T, dtype=float)[:, None] + 100, np.arange(T + 3, dtype=float)[:, None] + 200
    w = Windows(targets, past, known, context=5, horizon=3)
    b = w.batch([5, 12])
    assert b["past"][:, :, 0].tolist() == [[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]]
    assert b["future"][:, :, 1].tolist() == [[50, 60, 70], [120, 130, 140]]
    assert b["past_covariates"][1, :, 0].tolist() == [107, 108, 109, 110, 111]   # past-only, then known
    assert b["past_covariates"][1, :, 1].tolist() == [207, 208, 209, 210, 211]
    assert b["future_covariates"][0, :, 0].tolist() == [205, 206, 207]
    beyond = w.batch([T])  # a forecast past the end: known covariates continue, no future targets
    assert "future" not in beyond and beyond["future_covariates"][0, :, 0].tolist() == [220, 221, 222]


def test_origins_keep_whole_windows_and_always_include_the_last_one():
    assert origins(0, 20, context=5, horizon=3) == list(range(5, 18))
    assert origins(10, 20, context=5, horizon=3, stride=4) == [13, 17]
    assert origins(10, 20, context=5, horizon=3, stride=1)[0] == 10
    assert origins(0, 7, context=5, horizon=3) == []


def test_scaler_uses_only_the_rows_it_is_fitted_on():
    values = np.array([[1.0, 5.0], [3.0, 5.0], [100.0, 7.0]])
    scaler = Scaler.fit(values[:2])
    assert scaler.mean.tolist() == [2.0, 5.0] and scaler.std.tolist() == [1.0, 1.0]  # a constant column keeps std 1
    np.testing.assert_allclose(scaler.inverse(scaler.transform(values)), values)
    again = Scaler.from_json(scaler.to_json())
    np.testing.assert_array_equal(again.transform(values), scaler.transform(values))
    assert Scaler.fit(values, enabled=False).transform(values).tolist() == values.tolist()


@pytest.mark.parametrize("name", ["none", "log", "log1p", "sqrt"])
def test_transforms_invert(name):
    values = np.array([[0.5, 2.0], [10.0, 300.0]])
    np.testing.assert_allclose(invert_transform(name, apply_transform(name, values, ["a", "b"])), values)


def test_a_value_outside_the_transforms_domain_names_its_line_and_column():
    values = np.array([[1.0, 2.0], [3.0, 0.0]])
    with pytest.raises(DataError, match=r"s.csv line 3: b = 0, but data.transform=log needs values > 0"):
        apply_transform("log", values, ["a", "b"], "s.csv", np.array([2, 3]))
