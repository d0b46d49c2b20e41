"""`rnnkit export`: trained runs as ONNX files that run without PyTorch.

    onnx_ops.py  rnnkit's recurrent stacks as ONNX's LSTM/GRU/RNN operators
    onnx.py      the exporter call (torch.onnx, with that translation)
    tasks.py     what each task exports, and the manifest beside it
    runner.py    the PyTorch-free runner copied into every export (onnxruntime, numpy, tokenizers)

It needs the export extra: pip install 'rnnkit[export]' (onnx, onnxscript, onnxruntime).
"""
