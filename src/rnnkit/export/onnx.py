"""Writing a model as an ONNX file: torch.onnx's exporter (torch.export, then ONNX), with rnnkit's
recurrent stacks translated into ONNX's own recurrent operators (export/onnx_ops.py)."""

import logging
import os
import warnings
from typing import Dict, Sequence

import onnxscript.optimizer
import torch
import torch.export

from . import onnx_ops

OPSET = 18


def save_onnx(module: torch.nn.Module, args: tuple, path: str, input_names: Sequence[str],
              output_names: Sequence[str], dynamic: Dict[str, Dict[int, str]]) -> str:
    """``module(*args)`` exported to ``path`` (written whole, then renamed), with the axes ``dynamic``
    names ({input name: {axis: "batch"}}) free; returns the path. An argument may be a tuple of
    tensors: each is an input of its own, named in order by ``input_names``."""
    flat = [t for a in args for t in (a if isinstance(a, tuple) else (a,))]  # a tuple argument: one input each
    tensors = [t for t in flat if isinstance(t, torch.Tensor) and t.numel()]
    if len({t.data_ptr() for t in tensors}) < len(tensors):
        raise ValueError("two example inputs share memory: torch.export would make them one input (give each its own)")
    dims, names = {}, iter(input_names)

    def shape(name):
        return {axis: dims.setdefault(dim, torch.export.Dim(dim)) for axis, dim in dynamic.get(name, {}).items()} or None

    shapes = tuple(tuple(shape(next(names)) for _ in a) if isinstance(a, tuple) else shape(next(names)) for a in args)
    module = module.eval()
    tmp = path + ".tmp"
    chatty = logging.getLogger("torch.onnx")
    level = chatty.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's chatter about deprecated APIs and constant folding
        chatty.setLevel(logging.ERROR)
        try:
            program = torch.onnx.export(
                module, args, dynamo=True, input_names=list(input_names), output_names=list(output_names),
                dynamic_shapes=shapes, opset_version=OPSET, verbose=False,
                custom_translation_table={torch.ops.rnnkit.recurrent.default: onnx_ops.recurrent})
            # fold the weights' reordering into the stored weights, whatever their size: nothing is
            # recomputed per call, and onnxruntime's quantizer finds the recurrent weights as constants
            onnxscript.optimizer.optimize(program.model, input_size_limit=1 << 40, output_size_limit=1 << 40)
        finally:
            chatty.setLevel(level)
        program.save(tmp)
    os.replace(tmp, path)
    return path
