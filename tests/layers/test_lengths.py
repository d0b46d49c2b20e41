"""Variable lengths: a padded batch equals each row run alone; outputs past a row's length are exactly
zero; each row's final state is its state at its own last step; the reverse direction starts at each
row's last real step; lengths may come unsorted, as a list, or as a tensor of any integer dtype."""

import pytest
import torch

from rnnkit import LSTMState, Recurrent, RecurrentConfig
from rnnkit.cells.state import as_parts, from_parts
from rnnkit.layers import reverse_padded
from tests.reference import random_state

B, T, D, H = 4, 6, 3, 4
LENGTHS = [4, 6, 1, 3]
CONFIGS = {
    "lstm fused": ("lstm", {}),
    "lstm proj fused": ("lstm", {"proj_size": 2}),
    "gru fused": ("gru", {}),
    "rnn_relu fused": ("rnn_relu", {}),
    "lstm eager": ("lstm", {"backend": "eager"}),
    "lstm peephole+zoneout eager": ("lstm", {"peephole": True, "zoneout": 0.2, "zoneout_cell": 0.3, "backend": "eager"}),
    "gru cho eager": ("gru", {"reset_after": False, "backend": "eager"}),
}


def make(mode, options, bidirectional, num_layers=2):
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional, **options)).double().eval()
    assert layer.path == options.get("backend", "fused")
    return layer


def rows(state, b):
    """Row b of every state part, kept 3-d: (L*N, 1, size)."""
    return from_parts(tuple(p[:, b:b + 1] for p in as_parts(state)))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_padded_batch_equals_each_row_alone(config, bidirectional):
    layer = make(*config, bidirectional)
    x = torch.randn(B, T, D, dtype=torch.float64)
    state = from_parts(random_state(layer, B))
    y, final = layer(x, state, LENGTHS)
    for b, n in enumerate(LENGTHS):
        y_b, final_b = layer(x[b:b + 1, :n], rows(state, b))
        torch.testing.assert_close(y[b:b + 1, :n], y_b)
        torch.testing.assert_close(as_parts(rows(final, b)), as_parts(final_b))
        assert torch.equal(y[b, n:], torch.zeros_like(y[b, n:])), "outputs past a row's length must be exactly zero"


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_padding_values_do_not_matter(config):
    layer = make(*config, True)
    x = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    garbage = x.detach().clone()
    for b, n in enumerate(LENGTHS):
        garbage[b, n:] = 100.0 * torch.randn(T - n, D, dtype=torch.float64)
    garbage.requires_grad_()
    y, final = layer(x, lengths=LENGTHS)
    y_garbage, final_garbage = layer(garbage, lengths=LENGTHS)
    torch.testing.assert_close(y_garbage, y)
    torch.testing.assert_close(as_parts(final_garbage), as_parts(final))
    (y.sum() + as_parts(final)[0].sum()).backward()
    (y_garbage.sum() + as_parts(final_garbage)[0].sum()).backward()
    torch.testing.assert_close(garbage.grad, x.grad)
    for b, n in enumerate(LENGTHS):
        assert torch.equal(x.grad[b, n:], torch.zeros_like(x.grad[b, n:])), "padding must get no gradient"


def test_non_finite_padding_does_not_leak_into_the_scan():
    layer = make("gru", {"backend": "eager"}, False, 1)
    x = torch.randn(B, T, D, dtype=torch.float64)
    x[2, 1:] = float("nan")  # row 2 has length 1: everything after is padding
    y, final = layer(x, lengths=LENGTHS)
    assert torch.isfinite(y).all() and torch.isfinite(final).all()


def test_non_finite_padding_is_ignored_by_the_fused_path():
    layer = make("gru", {}, False, 1)
    x = torch.randn(B, T, D, dtype=torch.float64)
    x[2, 1:] = float("nan")
    y, final = layer(x, lengths=LENGTHS)
    assert torch.isfinite(y).all() and torch.isfinite(final).all()


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_final_state_is_the_state_at_each_rows_last_step(config):
    layer = make(*config, True, num_layers=1)
    P = layer.config.output_size
    x = torch.randn(B, T, D, dtype=torch.float64)
    y, final = layer(x, lengths=LENGTHS)
    h = as_parts(final)[0]  # (2, B, P)
    for b, n in enumerate(LENGTHS):
        torch.testing.assert_close(h[0, b], y[b, n - 1, :P])  # forward direction: its last real step
        torch.testing.assert_close(h[1, b], y[b, 0, P:])      # reverse direction: ends at step 0


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_reverse_direction_starts_at_each_rows_last_real_step(config):
    """The reverse direction's first step reads x[b, n-1] from the initial state (zeros); its output
    sits at position n-1. Checked against the reverse cell stepped by hand."""
    mode, options = config
    layer = make(mode, {k: v for k, v in options.items() if not k.startswith("zoneout")}, True, num_layers=1)
    P = layer.config.output_size
    x = torch.randn(B, T, D, dtype=torch.float64)
    y, _ = layer(x, lengths=LENGTHS)
    reverse = layer.cells[1]
    for b, n in enumerate(LENGTHS):
        state = None
        for t in range(n - 1, -1, -1):  # the whole reverse pass of row b, by hand
            state = reverse(x[b:b + 1, t], state)
            h = as_parts(state)[0]
            torch.testing.assert_close(y[b:b + 1, t, P:], h)


@pytest.mark.parametrize("backend", ["auto", "eager"])
def test_lengths_in_any_form(backend):
    layer = make("lstm", {} if backend == "auto" else {"backend": backend}, True)
    x = torch.randn(B, T, D, dtype=torch.float64)
    expected_y, expected_final = layer(x, lengths=torch.tensor(LENGTHS))
    for lengths in (LENGTHS, tuple(LENGTHS), torch.tensor(LENGTHS, dtype=torch.int32),
                    torch.tensor(LENGTHS, dtype=torch.uint8)):
        y, final = layer(x, lengths=lengths)
        torch.testing.assert_close(y, expected_y, rtol=0, atol=0)
        torch.testing.assert_close(tuple(final), tuple(expected_final), rtol=0, atol=0)


@pytest.mark.parametrize("backend", ["auto", "eager"])
def test_sorted_and_unsorted_lengths_agree(backend):
    layer = make("gru", {} if backend == "auto" else {"backend": backend}, True)
    x = torch.randn(B, T, D, dtype=torch.float64)
    order = torch.tensor(LENGTHS).argsort(descending=True)
    y, final = layer(x, lengths=LENGTHS)
    y_sorted, final_sorted = layer(x[order], lengths=torch.tensor(LENGTHS)[order])
    torch.testing.assert_close(y_sorted, y[order])
    torch.testing.assert_close(final_sorted, final[:, order])


@pytest.mark.parametrize("backend", ["auto", "eager"])
def test_full_lengths_equal_no_lengths(backend):
    layer = make("lstm", {} if backend == "auto" else {"backend": backend}, True)
    x = torch.randn(B, T, D, dtype=torch.float64)
    y, final = layer(x)
    y_full, final_full = layer(x, lengths=[T] * B)
    torch.testing.assert_close(y_full, y)
    torch.testing.assert_close(tuple(final_full), tuple(final))
    assert isinstance(final_full, LSTMState)


def test_reverse_padded():
    x = torch.arange(2 * 4, dtype=torch.float64).view(2, 4, 1)
    out = reverse_padded(x, torch.tensor([3, 1]))
    assert out[..., 0].tolist() == [[2, 1, 0, 3], [4, 5, 6, 7]]
    assert torch.equal(reverse_padded(out, torch.tensor([3, 1])), x)  # its own inverse
    assert torch.equal(reverse_padded(x, None), x.flip(1))
