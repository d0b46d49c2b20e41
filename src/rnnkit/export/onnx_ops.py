"""``rnnkit::recurrent`` (layers/exportable.py) in ONNX: a stack of ONNX's own LSTM, GRU or RNN operators.

ONNX's operators take the same equations in another layout: time first, each direction's weights
stacked on a leading axis, and the gates in another order, LSTM i, o, f, c (torch: i, f, g, o), GRU
z, r, h (torch: r, z, n), the peepholes i, o, f. The lengths are their ``sequence_lens``: each row
stops at its own length (the reverse direction starts there), its outputs past it are zero, and its
final state is the one at its last step, as rnnkit's own layer computes.
"""

from onnxscript import opset18 as op

INT32 = 6  # onnx.TensorProto.INT32
ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2)}  # the ONNX gate order, as torch gate indices
OPERATOR = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}


def _gates(w, cell: str, hidden_size: int):
    """Rows of ``w`` (G*H, ...) from torch's gate order into ONNX's. One Slice per gate rather than a
    Split: the exporter folds single-output operators on constants, so the reordered weights are stored
    as such (no work per call, and onnxruntime's quantizer sees them)."""
    order = ORDER.get(cell)
    if order is None:
        return w
    H = hidden_size
    return op.Concat(*[op.Slice(w, [i * H], [(i + 1) * H], [0]) for i in order], axis=0)


def _stack(parts):
    return op.Concat(*[op.Unsqueeze(p, [0]) for p in parts], axis=0)


def recurrent(x, lengths, h0, c0, weights, cell: str, num_layers: int, bidirectional: bool, hidden_size: int,
              bias: bool, peephole: bool, reset_after: bool):
    N = 2 if bidirectional else 1
    per = 2 + 2 * bias + 3 * peephole  # tensors per direction (layers/exportable.py operator_weights)
    sequence_lens = op.Cast(lengths, to=INT32)
    X = op.Transpose(x, perm=[1, 0, 2])  # (T, B, D)
    hs, cs = [], []
    for layer in range(num_layers):
        W, R, B, P = [], [], [], []
        for d in range(N):
            w = weights[(layer * N + d) * per:(layer * N + d + 1) * per]
            W.append(_gates(w[0], cell, hidden_size))
            R.append(_gates(w[1], cell, hidden_size))
            if bias:
                B.append(op.Concat(_gates(w[2], cell, hidden_size), _gates(w[3], cell, hidden_size), axis=0))
            if peephole:  # ONNX: i, o, f
                P.append(op.Concat(w[-3], w[-1], w[-2], axis=0))
        h_init = op.Slice(h0, [layer * N], [(layer + 1) * N], [0])
        common = dict(hidden_size=hidden_size, direction="bidirectional" if bidirectional else "forward")
        inputs = [X, _stack(W), _stack(R), _stack(B) if bias else None, sequence_lens, h_init]
        if cell == "lstm":
            c_init = op.Slice(c0, [layer * N], [(layer + 1) * N], [0])
            Y, Y_h, Y_c = op.LSTM(*inputs, c_init, _stack(P) if peephole else None, **common)
            cs.append(Y_c)
        elif cell == "gru":
            Y, Y_h = op.GRU(*inputs, linear_before_reset=1 if reset_after else 0, **common)
        else:
            Y, Y_h = op.RNN(*inputs, activations=["Tanh" if cell == "rnn_tanh" else "Relu"] * N, **common)
        hs.append(Y_h)
        X = op.Reshape(op.Transpose(Y, perm=[0, 2, 1, 3]), [0, 0, -1])  # (T, N, B, H) -> (T, B, N*H)
    h = op.Concat(*hs, axis=0) if num_layers > 1 else hs[0]
    c = (op.Concat(*cs, axis=0) if num_layers > 1 else cs[0]) if cell == "lstm" else op.Identity(c0)
    return op.Transpose(X, perm=[1, 0, 2]), h, c
