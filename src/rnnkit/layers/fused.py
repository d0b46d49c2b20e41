"""A layer (both directions), or a stack of them, on PyTorch's fused RNN kernels, with rnnkit's own
parameters.

torch._VF.{lstm,gru,rnn_tanh,rnn_relu} are the functions torch.nn.LSTM/GRU/RNN call: oneDNN (LSTM)
or ATen's C++ loop (GRU, RNN) on CPU, cuDNN on CUDA. The parameters are passed in as a flat list in
torch's order (per direction: w_ih, w_hh, [b_ih, b_hh], [w_hr]), so DropConnect only has to hand the
kernel a dropped copy of w_hh. Variable lengths use a PackedSequence, as torch.nn does, sorted and
unsorted here so the caller may give rows in any order.
"""

from torch import Tensor, _VF
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence



def fused_layer(torch_mode: str, x: Tensor, state: tuple, weights: list, bias: bool, training: bool,
                bidirectional: bool, lengths=None, num_layers: int = 1):
    """torch_mode: torch.nn.RNNBase.mode ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"); x (B, T, D); state parts
    (L*N, B, size); -> y (B, T, N*P), final parts (L*N, B, size).
    num_layers > 1 runs a stack in one call (weights layer after layer), with no dropout between the
    layers: the kernel's own would draw from a generator state (cuDNN's) that no checkpoint holds."""
    kernel = getattr(_VF, torch_mode.lower())  # torch._VF.lstm, gru, rnn_tanh, rnn_relu
    hx = state if len(state) == 2 else state[0]  # an LSTM's (h, c), else h
    if lengths is None:
        y, *final = kernel(x, hx, weights, bias, num_layers, 0.0, training, bidirectional, True)
        return y, tuple(final)
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    order = packed.sorted_indices
    hx = tuple(s.index_select(1, order) for s in state) if len(state) == 2 else hx.index_select(1, order)
    data, *final = kernel(packed.data, packed.batch_sizes, hx, weights, bias, num_layers, 0.0, training,
                            bidirectional)
    y, _ = pad_packed_sequence(PackedSequence(data, packed.batch_sizes, order, packed.unsorted_indices),
                               batch_first=True, total_length=x.shape[1])
    return y, tuple(s.index_select(1, packed.unsorted_indices) for s in final)
