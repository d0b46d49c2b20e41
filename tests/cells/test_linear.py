"""cells/linear.py: the oneDNN product equals F.linear, forward and backward (float32: the op has no
float64 kernel, so the reference is F.linear at the same inputs), and falls back where it does not apply."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.cells import linear as onednn

pytestmark = pytest.mark.skipif(not onednn.ENABLED, reason="no oneDNN linear in this torch build")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 5)])
def test_forward_and_gradients_equal_f_linear(bias, shape):
    torch.manual_seed(0)
    x = torch.randn(*shape, requires_grad=True)
    W = torch.randn(6, 5, requires_grad=True)
    b = torch.randn(6, requires_grad=True) if bias else None
    dy = torch.randn(*shape[:-1], 6)
    inputs = [t for t in (x, W, b) if t is not None]
    ours = onednn.linear(x, W, b)
    ours_grads = torch.autograd.grad(ours, inputs, dy)
    ref = F.linear(x, W, b)
    ref_grads = torch.autograd.grad(ref, inputs, dy)
    torch.testing.assert_close(ours, ref)
    for got, expected in zip(ours_grads, ref_grads):
        torch.testing.assert_close(got, expected)
    assert type(ours.grad_fn).__name__ == "_LinearBackward"  # ours, not F.linear's


def test_only_the_inputs_that_need_a_gradient_get_one():
    x, W = torch.randn(4, 3), torch.randn(2, 3, requires_grad=True)
    (dW,) = torch.autograd.grad(onednn.linear(x, W).sum(), [W])
    torch.testing.assert_close(dW, torch.ones(4, 2).t() @ x)


def test_float64_and_autocast_fall_back_to_f_linear():
    x64 = torch.randn(4, 3, dtype=torch.float64)
    assert not onednn.usable(x64)
    torch.testing.assert_close(onednn.linear(x64, torch.ones(2, 3, dtype=torch.float64)), x64.sum(-1, keepdim=True)
                               .expand(4, 2))
    x = torch.randn(4, 3)
    assert onednn.usable(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not onednn.usable(x)
        assert onednn.linear(x, torch.randn(2, 3)).dtype == torch.bfloat16   # autocast's F.linear


def test_turned_off_it_is_f_linear(monkeypatch):
    monkeypatch.setattr(onednn, "ENABLED", False)
    x, W = torch.randn(4, 3, requires_grad=True), torch.randn(2, 3)
    y = onednn.linear(x, W)
    assert type(y.grad_fn).__name__ != "_LinearBackward"
    torch.testing.assert_close(y, F.linear(x, W))
