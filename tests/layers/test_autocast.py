"""bfloat16 autocast on CPU: the fused LSTM and the eager scan run, stay close to float32, and give
finite gradients; the scan keeps its state in the input's dtype (docs/cells.md)."""

import pytest
import torch

from rnnkit import Recurrent, RecurrentConfig
from rnnkit.cells.state import as_parts

B, T, D, H = 3, 5, 4, 6
CONFIGS = {
    "lstm fused": ("lstm", {}),
    "gru fused bi": ("gru", {"bidirectional": True}),
    "lstm eager": ("lstm", {"backend": "eager"}),
    "lstm peephole+layer_norm eager bi": ("lstm", {"peephole": True, "layer_norm": True, "bidirectional": True,
                                                   "backend": "eager"}),
    "gru cho zoneout eager": ("gru", {"reset_after": False, "zoneout": 0.2, "backend": "eager"}),
}


@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_bfloat16_autocast(config, lengths):
    mode, options = config
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=2, **options)).eval()
    x = torch.randn(B, T, D)
    y32, final32 = layer(x, lengths=lengths)

    x.requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, final = layer(x, lengths=lengths)
    if layer.path != "fused":
        assert y.dtype == torch.float32 and all(p.dtype == torch.float32 for p in as_parts(final))
    # Layer norm rescales the recurrent pre-activations to unit variance, so bf16's relative rounding of
    # the small h W_hh^T becomes an absolute error about 20x larger (measured: up to 0.09 over 5 seeds).
    atol = 2e-1 if layer.config.layer_norm else 5e-2
    torch.testing.assert_close(y.float(), y32, atol=atol, rtol=0)
    torch.testing.assert_close(tuple(p.float() for p in as_parts(final)), as_parts(final32), atol=atol, rtol=0)

    y.float().square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_a_state_carried_under_autocast_goes_back_in(config):
    """Truncated BPTT under autocast: the fused kernel hands back a bfloat16 state; feeding it to the
    next chunk must work and equal feeding that state in float32."""
    mode, options = config
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=2, **options)).eval()
    first, second = torch.randn(B, T, D), torch.randn(B, T, D)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, state = layer(first)
        y, _ = layer(second, state)
        y32_state, _ = layer(second, tuple(p.float() for p in as_parts(state)))
    torch.testing.assert_close(y, y32_state, atol=0, rtol=0)
