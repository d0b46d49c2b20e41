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
    names ({input name: {axis: "batch"}}) free; returns the path."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if len({a.data_ptr() for a in tensors if a.numel()}) < len([a for a in tensors if a.numel()]):
        raise ValueError("two example inputs share memory: torch.export would make them one input (give each its own)")
    dims = {}
    shapes = tuple({axis: dims.setdefault(name, torch.export.Dim(name)) for axis, name in dynamic.get(input, {}).items()}
                   or None for input in input_names)
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
