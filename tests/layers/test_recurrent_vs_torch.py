"""Every layer configuration torch.nn has equals torch.nn.RNN/LSTM/GRU (batch_first=True) after
Recurrent.from_torch: outputs, final states, and the gradients of the input, the initial state and
every parameter, in float64, on every path. Variable lengths are compared with torch.nn fed a
PackedSequence (enforce_sorted=False), as its users do."""

import pytest
import torch
from torch import nn

from rnnkit import LSTMState, Recurrent
from tests.reference import assert_same_forward_and_grads, random_state, run_torch, torch_names

B, T, D, H = 4, 5, 3, 4
LENGTHS = [3, 5, 1, 4]  # unsorted, with a full row and a one-step row
CASES = {
    "lstm": ("lstm", {}),
    "lstm proj": ("lstm", {"proj_size": 2}),
    "lstm no bias": ("lstm", {"bias": False}),
    "gru": ("gru", {}),
    "gru no bias": ("gru", {"bias": False}),
    "rnn_tanh": ("rnn_tanh", {}),
    "rnn_relu": ("rnn_relu", {}),
    "rnn_tanh no bias": ("rnn_tanh", {"bias": False}),
}


def torch_module(mode, num_layers, bidirectional, bias=True, proj_size=0) -> nn.RNNBase:
    common = dict(num_layers=num_layers, bias=bias, batch_first=True, bidirectional=bidirectional)
    if mode == "lstm":
        return nn.LSTM(D, H, proj_size=proj_size, **common)
    if mode == "gru":
        return nn.GRU(D, H, **common)
    return nn.RNN(D, H, nonlinearity=mode[len("rnn_"):], **common)


def pair(mode, options, num_layers, bidirectional, backend):
    """(torch.nn module, our copy of it), both float64. The copy is made in float32 and both are then
    converted, so they hold identical values."""
    theirs = torch_module(mode, num_layers, bidirectional, **options)
    ours = Recurrent.from_torch(theirs, backend=backend)
    return theirs.double(), ours.double()


def compare(theirs, ours, given_state, lengths):
    x = torch.randn(B, T, D, dtype=torch.float64)
    state = random_state(ours, B) if given_state else []
    lstm = ours.config.cell == "lstm"

    def ours_fn(x, *state):
        state = (LSTMState(*state) if lstm else state[0]) if state else None
        return ours(x, state, lengths)

    def theirs_fn(x, *state):
        state = (tuple(state) if lstm else state[0]) if state else None
        return run_torch(theirs, x, state, lengths)

    assert_same_forward_and_grads(ours_fn, theirs_fn, [x, *state], torch_names(ours), dict(theirs.named_parameters()))


@pytest.mark.parametrize("backend", ["auto", "eager", "reference"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("given_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_equals_torch_nn(case, num_layers, bidirectional, given_state, lengths, backend):
    mode, options = case
    theirs, ours = pair(mode, options, num_layers, bidirectional, backend)
    assert ours.path == {"auto": "fused"}.get(backend, backend)
    compare(theirs, ours, given_state, lengths)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_compiled_equals_torch_nn(mode):
    """The compiled scan (torch.compile; slow to build, so only two configurations)."""
    theirs, ours = pair(mode, {}, 2, True, "compiled")
    compare(theirs, ours, True, LENGTHS)


def test_from_torch_copies_configuration():
    theirs = nn.LSTM(D, H, 2, bias=False, batch_first=True, bidirectional=True, proj_size=2, dropout=0.25)
    cfg = Recurrent.from_torch(theirs).config
    assert (cfg.cell, cfg.input_size, cfg.hidden_size, cfg.num_layers, cfg.bias, cfg.bidirectional, cfg.proj_size,
            cfg.dropout) == ("lstm", D, H, 2, False, True, 2, 0.25)
    assert Recurrent.from_torch(nn.RNN(D, H, nonlinearity="relu")).config.cell == "rnn_relu"


def test_inter_layer_dropout_is_off_in_eval_like_torch():
    theirs = torch_module("lstm", 2, False)
    theirs.dropout = 0.5
    ours = Recurrent.from_torch(theirs)
    theirs.eval(), ours.eval()
    x = torch.randn(B, T, D)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], rtol=1e-5, atol=1e-6)


def test_from_torch_keeps_the_module_dtype():
    theirs = torch_module("gru", 1, False).double()
    with torch.no_grad():  # values float32 cannot hold: a copy through float32 would round them
        theirs.weight_ih_l0.add_(torch.randn_like(theirs.weight_ih_l0) * 1e-9)
    ours = Recurrent.from_torch(theirs)
    assert ours.cells[0].weight_ih.dtype == torch.float64
    torch.testing.assert_close(ours.cells[0].weight_ih, theirs.weight_ih_l0, rtol=0, atol=0)
