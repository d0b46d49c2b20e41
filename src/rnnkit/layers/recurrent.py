"""Recurrent: any cell over a batch-first sequence: stacked, bidirectional, regularized,
variable-length, streaming; run on the fastest path that computes exactly its equations.

Paths: fused (torch's own kernels, with this layer's parameters), native (a C++ scan), compiled (the
scan with its step compiled), eager (the same uncompiled), reference (the readable loop); what each is
and when it runs: layers/paths.py, which ``Recurrent.path`` and ``Recurrent.explain()`` both ask.
While a model is exported (torch.export, torch.onnx) the stack is one operator (layers/exportable.py).
On the fused path the whole stack runs in one call unless dropout is drawn between layers; on CUDA the
parameters live in cuDNN's layout (flatten_parameters).
"""

import warnings
from typing import Optional

import torch
from torch import Tensor, nn

from ..cells.state import State, as_parts, from_parts
from . import dropout as drop
from .config import RecurrentConfig
from .exportable import exported_forward, exporting
from .fused import fused_layer
from .kinds import KINDS, kind_of_torch_mode
from .paths import Surroundings, choose
from .scan import reference_scan, scan


def reverse_padded(x: Tensor, lengths: Optional[Tensor]) -> Tensor:
    """Reverse each row of x (B, T, ...) within its own length; padding stays where it is."""
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.shape[1], device=x.device)[None]  # (1, T)
    index = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)  # (B, T)
    return x.gather(1, index.view(*index.shape, *[1] * (x.dim() - 2)).expand_as(x))


class Recurrent(nn.Module):
    """x (B, T, D) [, state] [, lengths (B,)] -> y (B, T, N*P), final state.

    The state is an LSTMState(h (L*N, B, P), c (L*N, B, H)) for an LSTM, a tensor h (L*N, B, H)
    otherwise: torch.nn's layout, layer-major then direction. ``cells[l * N + d]`` holds layer l,
    direction d (0 forward, 1 reverse).
    """

    def __init__(self, config: RecurrentConfig):
        super().__init__()
        self.config = cfg = config
        N = cfg.num_directions
        self.kind = KINDS[cfg.cell]
        self.cells = nn.ModuleList(
            self.kind.make(cfg, cfg.input_size if layer == 0 else N * cfg.output_size)
            for layer in range(cfg.num_layers) for _ in range(N))

    # --- which path ------------------------------------------------------------------------------
    def choice(self):
        """(path, reasons): layers/paths.py's choice for this layer's config where its parameters are."""
        return choose(self.config, Surroundings(self))

    @property
    def path(self) -> str:
        return self.choice().path

    def explain(self) -> str:
        """Which path this layer runs and why: a user should never be silently slow."""
        path, reasons = self.choice()
        return "\n".join([f"path: {path}", *reasons])

    # --- cuDNN's weight layout --------------------------------------------------------------------
    def _apply(self, fn, *args, **kwargs):
        result = super()._apply(fn, *args, **kwargs)  # .cuda(), .to(), .double() ...
        self.flatten_parameters()
        return result

    def _one_call(self, x: Tensor) -> bool:
        """Whether the fused path runs the whole stack in one kernel call (which lets cuDNN overlap the
        layers) rather than a call per layer. Only when no dropout is drawn between the layers: rnnkit
        draws that itself, as the scan paths do, so the masks are the same for the same seed on every
        path and a resumed run draws what the uninterrupted one did (cuDNN's own dropout keeps a
        generator state no checkpoint can hold). On CUDA the choice is fixed by the configuration, as
        the parameters' layout (flatten_parameters) is."""
        if not self._dropout_between_layers:
            return True
        return not (x.is_cuda or self.training)

    @property
    def _dropout_between_layers(self) -> bool:
        return self.config.num_layers > 1 and self.config.dropout > 0

    def flatten_parameters(self) -> None:
        """On CUDA, make the parameters views of one buffer in cuDNN's layout (one per layer when the
        layers run one call each), as torch.nn's flatten_parameters does, so that cuDNN reads them in
        place instead of copying them into that layout at every call. A no-op off CUDA and on the
        scan paths."""
        cfg, N = self.config, self.config.num_directions
        weights = [w for cell in self.cells for w in self._fused_weights(cell)]
        first = weights[0]
        if (self.path != "fused" or not first.is_cuda or not torch.backends.cudnn.is_acceptable(first)
                or any(w.dtype != first.dtype for w in weights)):
            return
        from torch.backends.cudnn import rnn
        mode = rnn.get_cudnn_mode(self.kind.torch_mode)
        per_direction = len(self._fused_weights(self.cells[0]))
        per_layer = per_direction * N
        # the layout _one_call's choice on CUDA needs: one buffer for the stack, or one per layer
        per_layer_calls = self._dropout_between_layers
        groups = [(layer, 1) for layer in range(cfg.num_layers)] if per_layer_calls else [(0, cfg.num_layers)]
        with torch.cuda.device_of(first), torch.no_grad():
            for layer, count in groups:
                input_size = cfg.input_size if layer == 0 else N * cfg.output_size
                torch._cudnn_rnn_flatten_weight(weights[layer * per_layer:(layer + count) * per_layer], per_direction,
                                                input_size, mode, cfg.hidden_size, cfg.proj_size, count, True,
                                                cfg.bidirectional)

    def _fused_weights(self, cell, weight_hh=None) -> list:
        """One direction's parameters in torch's order: w_ih, w_hh, [b_ih, b_hh], [w_hr]."""
        cfg = self.config
        weights = [cell.weight_ih, cell.weight_hh if weight_hh is None else weight_hh]
        weights += [cell.bias_ih, cell.bias_hh] if cfg.bias else []
        return weights + ([cell.weight_hr] if cfg.proj_size else [])

    # --- running ---------------------------------------------------------------------------------
    def forward(self, x: Tensor, state: Optional[State] = None, lengths: Optional[Tensor] = None):
        cfg = self.config
        if exporting():  # one rnnkit::recurrent node, which exports (layers/exportable.py)
            return exported_forward(self, x, state, lengths)
        lengths = self._check(x, state, lengths)
        B, T, _ = x.shape
        N = cfg.num_directions
        # under autocast a carried state comes back in the low precision: it re-enters in x's dtype
        parts = tuple(p.to(x.dtype) for p in as_parts(state)) if state is not None else tuple(
            x.new_zeros(cfg.num_layers * N, B, size) for size in self.cells[0].state_sizes)
        valid = None if lengths is None else (torch.arange(T, device=x.device)[None] < lengths[:, None])  # (B, T)
        if valid is not None:  # padding takes no part, whatever it holds (NaN included)
            x = x.masked_fill(~valid[..., None], 0.0)
        locked, training = cfg.variational, self.training
        y = drop.sequence_dropout(x, cfg.input_dropout, training, locked)
        path = self.path  # decided once per call
        if path == "fused" and self._one_call(x):
            y, final = self._run_fused(range(cfg.num_layers), y, parts, lengths)
        else:
            finals = []
            for layer in range(cfg.num_layers):
                if layer > 0:
                    y = drop.sequence_dropout(y, cfg.dropout, training, locked)
                layer_parts = tuple(p[layer * N:(layer + 1) * N] for p in parts)  # (N, B, size) each
                y, layer_final = self._run_layer(path, layer, y, layer_parts, lengths, valid)
                finals.append(layer_final)
            final = finals[0] if len(finals) == 1 else tuple(torch.cat(f) for f in zip(*finals))
        y = drop.sequence_dropout(y, cfg.output_dropout, training, locked)
        return y, from_parts(final)

    def step(self, x: Tensor, state: Optional[State] = None):
        """Streaming: one step x (B, D) from ``state`` -> (y (B, P), new state). Feeding a sequence
        step by step (or chunk by chunk through forward) equals running it at once."""
        if self.config.bidirectional:
            raise ValueError("a bidirectional layer cannot stream: its reverse direction needs the whole sequence")
        if not isinstance(x, Tensor) or x.dim() != 2:
            raise ValueError(f"step expects x of shape (B, D={self.config.input_size}), got "
                             f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
        y, state = self(x[:, None], state)
        return y[:, 0], state

    def _run_layer(self, path, layer, x, parts, lengths, valid):
        if path == "fused":
            return self._run_fused([layer], x, parts, lengths)
        N = self.config.num_directions
        cells = self.cells[layer * N:(layer + 1) * N]
        outputs, finals = [], []
        for direction, cell in enumerate(cells):
            x_dir = reverse_padded(x, lengths) if direction == 1 else x
            y, final = self._scan_direction(path, cell, x_dir, tuple(p[direction] for p in parts), valid)
            outputs.append(reverse_padded(y, lengths) if direction == 1 else y)
            finals.append(final)
        return torch.cat(outputs, -1), tuple(torch.stack([f[j] for f in finals]) for j in range(len(parts)))

    def _run_fused(self, layers, x, parts, lengths):
        """``layers`` (consecutive, nothing drawn between them) in one call of torch's fused kernel.
        parts: (len(layers) * N, B, size) each."""
        cfg, N, training = self.config, self.config.num_directions, self.training
        dropped = cfg.weight_dropout and training
        cells = list(self.cells)  # (indexing a ModuleList slice builds a new ModuleList)
        weights = [w for layer in layers for cell in cells[layer * N:(layer + 1) * N] for w in self._fused_weights(
            cell, drop.drop_connect(cell.weight_hh, cfg.weight_dropout, training) if dropped else None)]
        args = (self.kind.torch_mode, x, parts, weights, cfg.bias, training, cfg.bidirectional, lengths, len(layers))
        if not (dropped and x.is_cuda):
            return fused_layer(*args)
        with warnings.catch_warnings():  # a dropped W_hh is a new tensor: cuDNN copies the weights, as it must
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory")
            return fused_layer(*args)

    def _scan_direction(self, path, cell, x, state, valid):
        """One direction of one layer, x (B, T, D) already in its reading order."""
        cfg, training = self.config, self.training
        B, T, _ = x.shape
        dtype = state[0].dtype
        x = x.transpose(0, 1).contiguous()  # (T, B, D): each step's rows contiguous
        # (T, B, G): the input part for all steps, one matmul
        scanner = self.kind.native if path == "native" else None
        gx, extra = scanner.project_input(cell, x) if scanner else (cell.project_input(x).to(dtype), {})
        weight_hh = drop.drop_connect(cell.weight_hh, cfg.weight_dropout, training)  # one mask per call
        W = cell.recurrent_weight(weight_hh)
        rec_mask = drop.recurrent_mask(B, state[0].shape[-1], cfg.recurrent_dropout, gx) if training else None
        keep = self._keep(cell, T, B, valid, gx)
        params = {**cell.core_params(weight_hh), **extra}
        if rec_mask is not None:
            params["recurrent_mask"] = rec_mask  # for cores that multiply h themselves (Cho's GRU)
        args = (cell.core, gx, W, state, params, rec_mask, keep)
        if path == "reference":
            hs, final = reference_scan(*args)
        elif scanner:
            hs, final = scanner.scan(*args[1:])
        else:
            hs, final = scan(*args, compiled=path == "compiled")
        y = hs.transpose(0, 1)  # (B, T, P)
        return (y if valid is None else y.masked_fill(~valid[..., None], 0.0)), final

    def _keep(self, cell, T, B, valid, like):
        """Per state part, how much of the old state each step keeps (layers/scan.py), or None."""
        cfg = self.config
        rates = (cfg.zoneout, cfg.zoneout_cell)[:len(cell.state_sizes)]
        if not any(rates) and valid is None:
            return None
        step_valid = None if valid is None else valid.t()[..., None].to(like.dtype)  # (T, B, 1)
        keep = []
        for size, z in zip(cell.state_sizes, rates):
            k = drop.zoneout_keep(T, B, size, z, self.training, like) if z else like.new_zeros(T, B, 1)
            keep.append(k if step_valid is None else 1 - step_valid * (1 - k))
        return tuple(keep)

    def _check(self, x, state, lengths):
        """Clear errors for what a user can get wrong; returns lengths as a tensor on x's device."""
        cfg = self.config
        if not isinstance(x, Tensor) or x.dim() != 3:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"expected input of shape (B, T, D={cfg.input_size}) (batch first), got {got}")
        if not x.is_floating_point():
            raise TypeError(f"expected a floating-point input, got dtype {x.dtype}")
        B, T, D = x.shape
        if D != cfg.input_size:
            raise ValueError(f"input has {D} features in its last dimension, expected input_size={cfg.input_size}")
        if T == 0 or B == 0:
            raise ValueError(f"input of shape {tuple(x.shape)} is empty")
        if state is not None:
            parts = as_parts(state)
            sizes = self.cells[0].state_sizes
            if len(parts) != len(sizes):
                kind = "an LSTMState(h, c)" if len(sizes) == 2 else "a tensor h"
                raise ValueError(f"state for cell={cfg.cell!r} must be {kind}")
            for name, part, size in zip("hc", parts, sizes):
                expected = (cfg.num_layers * cfg.num_directions, B, size)
                if not isinstance(part, Tensor) or tuple(part.shape) != expected:
                    got = tuple(part.shape) if isinstance(part, Tensor) else type(part).__name__
                    raise ValueError(f"state {name} has shape {got}, expected (L*N, B, size) = {expected}")
                autocast = torch.is_autocast_enabled(x.device.type) and part.is_floating_point()
                if (part.dtype != x.dtype and not autocast) or part.device != x.device:
                    raise TypeError(f"state {name} is {part.dtype} on {part.device}, input is {x.dtype} on {x.device}")
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.shape[0] != B or lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must be integers of shape (B,) = ({B},), got {lengths.dtype} {tuple(lengths.shape)}")
        low, high = int(lengths.min()), int(lengths.max())
        if low < 1 or high > T:
            raise ValueError(f"lengths must lie in [1, T={T}], got values from {low} to {high}")
        return lengths.to(x.device)

    # --- interop ---------------------------------------------------------------------------------
    @classmethod
    def from_torch(cls, module: nn.RNNBase, **options) -> "Recurrent":
        """A Recurrent with the configuration and a copy of the weights of a torch.nn.RNN/LSTM/GRU."""
        layer = cls(RecurrentConfig(
            kind_of_torch_mode(module.mode), input_size=module.input_size, hidden_size=module.hidden_size,
            num_layers=module.num_layers, bias=module.bias, bidirectional=module.bidirectional,
            proj_size=getattr(module, "proj_size", 0), dropout=module.dropout, **options))
        layer = layer.to(next(module.parameters()))  # the module's dtype and device first: a float64 copy stays exact
        layer.load_torch_state_dict(module.state_dict())
        return layer

    def load_torch_state_dict(self, state_dict: dict) -> None:
        """Copy weights named as in torch.nn.LSTM (``weight_ih_l1_reverse`` ...) into the cells."""
        N = self.config.num_directions
        with torch.no_grad():
            for index, cell in enumerate(self.cells):
                suffix = f"_l{index // N}" + ("_reverse" if index % N else "")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
                    if hasattr(cell, name) and isinstance(getattr(cell, name), nn.Parameter):
                        getattr(cell, name).copy_(state_dict[name + suffix])
