"""Attention of a decoder state over a source memory (Bahdanau et al. 2015; Luong et al. 2015).

    score(h, m_s)
        additive   v . tanh(W_q h + W_k m_s + b)   Bahdanau et al.'s score (OpenNMT's "mlp"), with the
                                                  current decoder state h_t as the query: Luong's placement,
                                                  not Bahdanau's previous state s_{t-1}
        general    h . (W_a m_s)                  Luong et al.
        dot        h . m_s                        Luong et al.; it needs m_s as wide as h. When the memory
                                                  is wider (a bidirectional encoder: 2H against H), m_s is
                                                  first mapped to h's width, h . (W_a m_s), which is exactly
                                                  "general": the two kinds then coincide
    a_s = softmax_s(score(h, m_s))                over the real source positions: padding gets exactly 0
    c = sum_s a_s m_s

The memory-only part of the score (W_k m_s + b, or W_a m_s) is the ``keys``: ``prepare`` computes it
once per batch, so each decoder step costs one (B, S, A) tanh (additive) or one batched matrix-vector
product (dot, general). ``prepare`` also zeroes the padded memory rows (the ``values``), so whatever
they held (NaN included) never reaches c: a zero weight times NaN would still be NaN.

Shapes: query (B, Q) for one step or (B, T, Q) for all steps at once; memory (B, S, M); mask (B, S)
True on real source tokens (each row needs at least one); keys (B, S, K) with K = A (additive), Q
(general, or dot with a projection) or M (dot).
"""

import torch
from torch import Tensor, nn

KINDS = ("additive", "dot", "general")


class Attention(nn.Module):
    """Parameters: additive: key (W_k, b) Linear(M, A), query (W_q) Linear(Q, A, no bias), v Linear(A, 1,
    no bias), A = attention_size or Q; general (and dot with M != Q): key (W_a) Linear(M, Q, no bias);
    dot with M == Q: none."""

    def __init__(self, kind: str, query_size: int, memory_size: int, attention_size: int = 0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"attention kind={kind!r}: expected one of {KINDS}")
        self.kind = kind
        self.key = self.query = self.v = None
        if kind == "additive":
            size = attention_size or query_size
            self.key = nn.Linear(memory_size, size)
            self.query = nn.Linear(query_size, size, bias=False)
            self.v = nn.Linear(size, 1, bias=False)
        elif kind == "general" or memory_size != query_size:
            self.key = nn.Linear(memory_size, query_size, bias=False)

    def prepare(self, memory: Tensor, mask: Tensor):
        """memory (B, S, M), mask (B, S) -> keys (B, S, K), values (B, S, M): once per batch."""
        values = memory.masked_fill(~mask[..., None], 0.0)  # (B, S, M)
        keys = values if self.key is None else self.key(values)  # (B, S, K)
        return keys, values

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor):
        """query (B, Q) or (B, T, Q) -> context (B, [T,] M), weights (B, [T,] S)."""
        one_step = query.dim() == 2
        q = query[:, None] if one_step else query  # (B, T, Q)
        if self.kind == "additive":
            hidden = torch.tanh(self.query(q)[:, :, None] + keys[:, None])  # (B, T, S, A)
            scores = self.v(hidden).squeeze(-1)  # (B, T, S)
        else:
            scores = q @ keys.transpose(1, 2)  # (B, T, S)
        weights = scores.masked_fill(~mask[:, None], float("-inf")).softmax(-1)  # (B, T, S)
        context = weights @ values  # (B, T, M)
        return (context[:, 0], weights[:, 0]) if one_step else (context, weights)
