"""Clear errors for what a user can get wrong: each names what was given and what is expected."""

import pytest
import torch

from rnnkit import GRU, LSTM, RNN, LSTMState, Recurrent, RecurrentConfig

B, T, D, H = 2, 3, 3, 4


@pytest.fixture
def lstm():
    return LSTM(D, H, num_layers=2)


@pytest.mark.parametrize("x, error, match", [
    (torch.randn(T, D), ValueError, r"expected input of shape \(B, T, D=3\) \(batch first\), got \(3, 3\)"),
    (torch.randn(1, B, T, D), ValueError, r"expected input of shape .* got \(1, 2, 3, 3\)"),
    ([[0.0] * D] * T, ValueError, r"expected input of shape .* got list"),
    (torch.randn(B, T, D + 1), ValueError, "input has 4 features in its last dimension, expected input_size=3"),
    (torch.ones(B, T, D, dtype=torch.long), TypeError, "expected a floating-point input, got dtype torch.int64"),
    (torch.randn(0, T, D), ValueError, r"input of shape \(0, 3, 3\) is empty"),
    (torch.randn(B, 0, D), ValueError, r"input of shape \(2, 0, 3\) is empty"),
], ids=["2d", "4d", "list", "features", "integer", "no rows", "no steps"])
def test_bad_input(lstm, x, error, match):
    with pytest.raises(error, match=match):
        lstm(x)


@pytest.mark.parametrize("lengths, match", [
    ([0, 3], r"lengths must lie in \[1, T=3\], got values from 0 to 3"),
    ([2, 4], r"lengths must lie in \[1, T=3\], got values from 2 to 4"),
    ([2], r"lengths must be integers of shape \(B,\) = \(2,\), got torch.int64 \(1,\)"),
    ([[2, 3]], r"lengths must be integers of shape \(B,\) = \(2,\), got torch.int64 \(1, 2\)"),
    (torch.tensor([2.0, 3.0]), r"lengths must be integers .* got torch.float32 \(2,\)"),
    (torch.tensor([True, True]), r"lengths must be integers .* got torch.bool"),
], ids=["zero", "beyond T", "too few", "2d", "float", "bool"])
@pytest.mark.parametrize("backend", ["auto", "eager"])
def test_bad_lengths(backend, lengths, match):
    layer = LSTM(D, H, backend=backend)
    with pytest.raises(ValueError, match=match):
        layer(torch.randn(B, T, D), lengths=lengths)


def test_state_of_the_wrong_shape(lstm):
    x = torch.randn(B, T, D)
    with pytest.raises(ValueError, match=r"state h has shape \(1, 2, 4\), expected \(L\*N, B, size\) = \(2, 2, 4\)"):
        lstm(x, LSTMState(torch.zeros(1, B, H), torch.zeros(2, B, H)))
    with pytest.raises(ValueError, match=r"state c has shape \(2, 3, 4\), expected .* = \(2, 2, 4\)"):
        lstm(x, LSTMState(torch.zeros(2, B, H), torch.zeros(2, 3, H)))
    with pytest.raises(ValueError, match=r"state h has shape \(2, 2, 3\), expected .* = \(2, 2, 4\)"):
        GRU(D, H, num_layers=2)(x, torch.zeros(2, B, 3))
    with pytest.raises(ValueError, match=r"state h has shape \(2, 2, 4\), expected .* = \(2, 2, 2\)"):
        LSTM(D, H, num_layers=2, proj_size=2)(x, LSTMState(torch.zeros(2, B, H), torch.zeros(2, B, H)))


def test_state_of_the_wrong_kind(lstm):
    x = torch.randn(B, T, D)
    with pytest.raises(ValueError, match=r"state for cell='lstm' must be an LSTMState\(h, c\)"):
        lstm(x, torch.zeros(2, B, H))
    with pytest.raises(ValueError, match="state for cell='gru' must be a tensor h"):
        GRU(D, H)(x, LSTMState(torch.zeros(1, B, H), torch.zeros(1, B, H)))
    with pytest.raises(ValueError, match=r"state c has shape list"):
        lstm(x, LSTMState(torch.zeros(2, B, H), [0.0]))


def test_state_dtype_must_match_the_input(lstm):
    x = torch.randn(B, T, D)
    state = LSTMState(torch.zeros(2, B, H, dtype=torch.float64), torch.zeros(2, B, H))
    with pytest.raises(TypeError, match="state h is torch.float64 on cpu, input is torch.float32 on cpu"):
        lstm(x, state)


@pytest.mark.parametrize("fields, match", [
    ({"cell": "transformer"}, r"RecurrentConfig.cell='transformer': expected one of \('lstm', 'gru'"),
    ({"input_size": 0}, r"RecurrentConfig.input_size=0: expected an integer >= 1"),
    ({"hidden_size": 2.5}, r"RecurrentConfig.hidden_size=2.5: expected an integer >= 1"),
    ({"num_layers": True}, r"RecurrentConfig.num_layers=True: expected an integer >= 1"),
    ({"dropout": 1.5}, r"RecurrentConfig.dropout=1.5: expected a number in \[0, 1\)"),
    ({"recurrent_dropout": -0.1}, r"RecurrentConfig.recurrent_dropout=-0.1: expected a number in \[0, 1\)"),
    ({"zoneout": 1.0}, r"RecurrentConfig.zoneout=1.0: expected a number in \[0, 1\)"),
    ({"weight_dropout": "0.5"}, r"RecurrentConfig.weight_dropout='0.5': expected a number in \[0, 1\)"),
    ({"cell": "gru", "peephole": True}, r"RecurrentConfig.peephole=True: expected False: it applies to cell='lstm' only"),
    ({"cell": "rnn_tanh", "zoneout_cell": 0.1}, r"RecurrentConfig.zoneout_cell=0.1: .* cell='lstm' only"),
    ({"cell": "gru", "proj_size": 2}, r"RecurrentConfig.proj_size=2: .* cell='lstm' only"),
    ({"reset_after": False}, r"RecurrentConfig.reset_after=False: expected True: it applies to cell='gru' only"),
    ({"forget_bias": float("nan")}, r"RecurrentConfig.forget_bias=nan: expected a finite number, or null"),
    ({"forget_bias": 1.0, "bias": False}, r"RecurrentConfig.forget_bias=1.0: expected null: it sets a bias"),
    ({"bidirectional": 1}, r"RecurrentConfig.bidirectional=1: expected true or false"),
    ({"proj_size": H}, r"RecurrentConfig.proj_size=4: expected an integer in \[0, hidden_size=4\)"),
    ({"proj_size": -1}, r"RecurrentConfig.proj_size=-1: expected an integer in \[0, hidden_size=4\)"),
    ({"init": "he"}, r"RecurrentConfig.init='he': expected one of \('torch', 'keras'\)"),
    ({"backend": "cuda"}, r"RecurrentConfig.backend='cuda': expected one of \('auto', 'fused'"),
], ids=lambda v: "-".join(f"{k}={v[k]}" for k in v) if isinstance(v, dict) else "")
def test_invalid_config(fields, match):
    with pytest.raises(ValueError, match=match):
        RecurrentConfig(**{"cell": "lstm", "input_size": D, "hidden_size": H, **fields})


@pytest.mark.parametrize("options, reason", [
    ({"peephole": True}, "peephole connections are not in torch's fused LSTM kernel"),
    ({"layer_norm": True}, "layer normalization is not in torch's fused LSTM kernel"),
    ({"zoneout": 0.1}, "zoneout changes the state update inside the time loop"),
    ({"recurrent_dropout": 0.1}, "recurrent dropout masks h inside the time loop"),
])
def test_fused_backend_that_cannot_be_fused(options, reason):
    with pytest.raises(ValueError, match=f"RecurrentConfig.backend='fused' is impossible: {reason}"):
        LSTM(D, H, backend="fused", **options)
    with pytest.raises(ValueError, match="the original GRU form"):
        GRU(D, H, backend="fused", reset_after=False)


def test_native_backend_where_there_is_no_cpp_scan():
    with pytest.raises(ValueError, match="backend='native' is impossible: there is no C\\+\\+ scan for cell='gru'"):
        GRU(D, H, backend="native")
    with pytest.raises(ValueError, match="backend='native' is impossible: the C\\+\\+ scan has no projection"):
        LSTM(D, H, backend="native", proj_size=2)


def test_config_is_frozen():
    cfg = RecurrentConfig("lstm", input_size=D, hidden_size=H)
    with pytest.raises(AttributeError):
        cfg.hidden_size = 8


def test_step_on_a_bidirectional_layer():
    with pytest.raises(ValueError, match="a bidirectional layer cannot stream"):
        LSTM(D, H, bidirectional=True).step(torch.randn(B, D))


def test_step_needs_one_step():
    with pytest.raises(ValueError, match=r"step expects x of shape \(B, D=3\), got \(2, 3, 3\)"):
        LSTM(D, H).step(torch.randn(B, T, D))


def test_rnn_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity='sigmoid': expected 'tanh' or 'relu'"):
        RNN(D, H, nonlinearity="sigmoid")
    assert RNN(D, H, nonlinearity="relu").config.cell == "rnn_relu"


def test_recurrent_needs_a_config():
    layer = Recurrent(RecurrentConfig("gru", input_size=D, hidden_size=H))
    assert layer(torch.randn(B, T, D))[0].shape == (B, T, H)
