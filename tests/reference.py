"""The one reference helper (after tinygrad's tests): run two implementations on the same inputs and
compare every output and every gradient with torch.testing.assert_close, which says where and by how much.

Plus the small pieces that let torch.nn stand on the other side of it: torch's parameter names for a
Recurrent layer, and torch.nn run on a padded batch through a PackedSequence.
"""

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.testing import assert_close


def flatten(out) -> list:
    """A tensor, or (nested) tuples of tensors such as (y, LSTMState(h, c)) -> list of tensors."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in flatten(item)]
    raise TypeError(f"cannot compare an output of type {type(out).__name__}")


def _fresh(inputs) -> list:
    """Independent leaf copies of the inputs; floating-point ones require grad."""
    return [x.detach().clone().requires_grad_(x.is_floating_point()) if isinstance(x, Tensor) else x
            for x in inputs]


def assert_same_forward_and_grads(fn_a, fn_b, inputs, params_a: dict, params_b: dict, **tolerance):
    """fn_a(*inputs) must equal fn_b(*inputs): every output, then the gradients of one random weighted
    sum of all outputs with respect to every floating-point input and every parameter.

    params_a / params_b map the same names to the parameters each side reads (e.g. torch's names
    weight_ih_l0_reverse on both sides). Every one of them must receive a gradient.
    ``tolerance``: rtol/atol for assert_close (its defaults for the dtype otherwise).
    """
    assert params_a.keys() == params_b.keys(), (
        f"parameter names differ: only a {sorted(params_a.keys() - params_b.keys())}, "
        f"only b {sorted(params_b.keys() - params_a.keys())}")
    names = sorted(params_a)
    for side in (params_a, params_b):
        for p in side.values():
            p.grad = None
    ins_a, ins_b = _fresh(inputs), _fresh(inputs)
    out_a, out_b = flatten(fn_a(*ins_a)), flatten(fn_b(*ins_b))
    assert len(out_a) == len(out_b), f"{len(out_a)} outputs vs {len(out_b)}"
    for i, (a, b) in enumerate(zip(out_a, out_b)):
        assert a.shape == b.shape, f"output {i}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
        assert_close(a, b, **tolerance, msg=lambda m, i=i: f"output {i}: {m}")

    generator = torch.Generator().manual_seed(1234)
    cotangents = [torch.randn(a.shape, generator=generator, dtype=torch.float64).to(a) for a in out_a]

    def gradients(outs, ins, params):
        loss = sum((o * w).sum() for o, w in zip(outs, cotangents))
        wrt = [x for x in ins if isinstance(x, Tensor) and x.requires_grad] + [params[n] for n in names]
        return torch.autograd.grad(loss, wrt, allow_unused=True)

    labels = [f"input {i}" for i, x in enumerate(ins_a) if isinstance(x, Tensor) and x.requires_grad] + names
    for label, ga, gb in zip(labels, gradients(out_a, ins_a, params_a), gradients(out_b, ins_b, params_b)):
        assert ga is not None and gb is not None, f"no gradient reached {label} (a: {ga is not None}, b: {gb is not None})"
        assert_close(ga, gb, **tolerance, msg=lambda m, label=label: f"gradient of {label}: {m}")


def torch_names(layer) -> dict:
    """A Recurrent layer's parameters under torch.nn.RNN/LSTM/GRU's names: cells[l * N + d] holds
    layer l, direction d, whose weight_ih is torch's weight_ih_l{l}[_reverse]."""
    N = layer.config.num_directions
    return {f"{name}_l{index // N}{'_reverse' if index % N else ''}": p
            for index, cell in enumerate(layer.cells) for name, p in cell.named_parameters()}


def run_torch(module: nn.RNNBase, x: Tensor, state=None, lengths=None):
    """torch.nn (batch_first=True) on a padded batch: packed when lengths are given, as users do."""
    if lengths is None:
        return module(x, state)
    packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
    y, final = module(packed, state)
    y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
    return y, final


def random_state(layer, batch: int, dtype=torch.float64) -> list:
    """Random initial state parts for a Recurrent layer: [h] or [h, c], each (L*N, B, size)."""
    cfg = layer.config
    return [torch.randn(cfg.num_layers * cfg.num_directions, batch, size, dtype=dtype)
            for size in layer.cells[0].state_sizes]


def randomize_layer_norm(module) -> None:
    """Layer-norm gains start at 1 and biases at 0, which hides a gain/bias mix-up or a missing
    gradient path; move them to random values."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.split(".")[-1].startswith("ln_"):
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith("weight") else 0.0))


def gradcheck_cell(cell: nn.Module, x: Tensor, *state: Tensor) -> bool:
    """torch.autograd.gradcheck of one step of a float64 ``cell`` with respect to the input, every
    state part and every parameter (passed functionally, so each one is checked, not just x)."""
    from torch.func import functional_call

    from rnnkit.cells.state import as_parts, from_parts

    names = [name for name, _ in cell.named_parameters()]
    n_state = len(state)

    def step(x, *rest):
        out = functional_call(cell, dict(zip(names, rest[n_state:])), (x, from_parts(rest[:n_state])))
        return as_parts(out)

    inputs = (x, *state, *(p.detach().clone() for p in cell.parameters()))
    return torch.autograd.gradcheck(step, tuple(t.detach().clone().requires_grad_() for t in inputs))
