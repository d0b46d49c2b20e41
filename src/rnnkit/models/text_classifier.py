"""A recurrent text classifier: embedding -> (bi)RNN/LSTM/GRU -> pooling over time -> linear -> softmax.

    e = E[ids]                          (B, T, E)   embedding (optionally pretrained, frozen or not)
    y, state = Recurrent(e, lengths)    (B, T, N*H) padding takes no part (the layer's ``lengths``); with an
                                                    LSTM's proj_size, H here is proj_size
    p = pool(y, state, lengths)         (B, P)      one or more of, concatenated (P = sum of their sizes):
        last       the final state of the top layer, both directions (N*H): forward at t = length - 1,
                   reverse at t = 0
        mean       sum_t y_t / length (N*H)
        max        max_t y_t over the valid steps (N*H; Collobert et al. 2011, Conneau et al. 2017)
        attention  sum_t a_t y_t with a = softmax_t(v . tanh(W y_t + b)) over the valid steps
                   (N*H; Yang et al. 2016, Lin et al. 2017)
    logits = W_out dropout(p) + b_out   (B, C)
    loss = cross entropy, each class weighted by ``class_weights`` (all 1 unless set)

Embedding dropout drops whole words (rows of E, Gal & Ghahramani 2016; AWD-LSTM), input dropout the
features of the embedded sequence (with ``variational``, one mask for all time steps: Keras's
SpatialDropout1D).
"""

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..cells.state import as_parts
from ..layers import Recurrent, RecurrentOptions

POOLINGS = ("last", "mean", "max", "attention")


@dataclass(frozen=True)
class TextClassifierConfig(RecurrentOptions):
    # the recurrent layer's options (layers/config.py), with this task's defaults
    bidirectional: bool = True      # N = 2
    input_dropout: float = 0.2      # on the embedded sequence
    variational: bool = True        # input_dropout (and dropout) masks locked over time
    # the model's own
    embedding_size: int = 128       # E (the vectors' own size when data.vectors is given)
    pooling: str = "max"            # one of POOLINGS, or several joined by "+" (e.g. "mean+max")
    attention_size: int = 0         # attention pooling's hidden size; 0 = N*H
    embedding_dropout: float = 0.0  # drops whole words
    output_dropout: float = 0.3     # on the pooled vector, before the classifier
    freeze_embeddings: bool = False  # keep pretrained vectors as they are

    WHOLE = RecurrentOptions.WHOLE + ("embedding_size",)
    RATES = RecurrentOptions.RATES + ("embedding_dropout", "output_dropout")

    def __post_init__(self):
        super().__post_init__()
        if self.attention_size < 0:
            raise self.invalid("attention_size", "an integer >= 0 (0 = N*H)")
        bad = [p for p in self.poolings if p not in POOLINGS]
        if bad or len(set(self.poolings)) != len(self.poolings):
            raise self.invalid("pooling", f"one of {POOLINGS} or several joined by '+', each once")

    @property
    def poolings(self):
        return tuple(p.strip() for p in self.pooling.split("+"))


class AttentionPooling(nn.Module):
    """a = softmax_t(v . tanh(W y_t + b)) over the valid steps; returns sum_t a_t y_t and a."""

    def __init__(self, size: int, attention_size: int):
        super().__init__()
        self.proj = nn.Linear(size, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def forward(self, y: Tensor, valid: Tensor):
        scores = self.score(torch.tanh(self.proj(y))).squeeze(-1)  # (B, T)
        weights = scores.masked_fill(~valid, float("-inf")).softmax(-1)  # (B, T)
        return torch.einsum("bt,btd->bd", weights.to(y.dtype), y), weights


class TextClassifier(nn.Module):
    def __init__(self, config: TextClassifierConfig, vocab_size: int, num_classes: int):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.config = cfg = config
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_size, padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=0.1)  # small, like Keras's uniform(-0.05, 0.05)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(not cfg.freeze_embeddings)
        self.rnn = Recurrent(cfg.recurrent_config(cfg.embedding_size))
        size = cfg.num_directions * cfg.output_size  # N*H (N*proj_size if the LSTM projects)
        self.attention = (AttentionPooling(size, cfg.attention_size or size) if "attention" in cfg.poolings
                          else None)
        self.output = nn.Linear(size * len(cfg.poolings), num_classes)
        self.register_buffer("class_weights", torch.ones(num_classes))
        self.num_classes = num_classes

    def set_embeddings(self, weight: Tensor, found: Tensor) -> None:
        """Pretrained vectors for the rows in ``found``; the others keep their random start."""
        with torch.no_grad():
            self.embedding.weight[found] = weight[found].to(self.embedding.weight)

    def embed(self, ids: Tensor) -> Tensor:
        weight = self.embedding.weight
        p = self.config.embedding_dropout
        if self.training and p > 0:  # one keep/drop decision per vocabulary word and batch
            keep = weight.new_empty(weight.shape[0], 1).bernoulli_(1 - p) / (1 - p)
            weight = weight * keep
        return F.embedding(ids, weight, padding_idx=0)

    def pool(self, y: Tensor, state, lengths: Tensor) -> Tensor:
        """y (B, T, N*H), the layer's final state, lengths (B,) -> (B, P)."""
        cfg = self.config
        valid = torch.arange(y.shape[1], device=y.device)[None] < lengths[:, None]  # (B, T)
        pooled = []
        for kind in cfg.poolings:
            if kind == "last":
                h = as_parts(state)[0]  # (L*N, B, H)
                pooled.append(torch.cat(list(h[-cfg.num_directions:]), -1))  # the top layer's directions: (B, N*H)
            elif kind == "mean":
                pooled.append(y.sum(1) / lengths[:, None].to(y.dtype))  # padding is zero in y
            elif kind == "max":
                pooled.append(y.masked_fill(~valid[..., None], float("-inf")).amax(1))
            else:
                pooled.append(self.attention(y, valid)[0])
        return torch.cat(pooled, -1)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, T), lengths (B,) -> logits (B, C)."""
        x = self.embed(ids)  # (B, T, E)
        y, state = self.rnn(x, lengths=lengths)  # (B, T, N*H)
        p = self.pool(y, state, lengths)  # (B, P)
        p = F.dropout(p, self.config.output_dropout, self.training)
        return self.output(p)  # (B, C)

    def loss(self, batch: dict, carry=None):
        logits = self(batch["ids"], batch["lengths"])
        if logits.dtype in (torch.float16, torch.bfloat16):  # autocast: the softmax in float32
            logits = logits.float()
        loss = F.cross_entropy(logits, batch["labels"], weight=self.class_weights.to(logits.dtype))
        return loss, batch["labels"].numel(), None

    @torch.no_grad()
    def predict_proba(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self(ids, lengths).float().softmax(-1)  # (B, C)

    def attention_weights(self, ids: Tensor, lengths: Tensor) -> Optional[Tensor]:
        """Attention pooling's weights over the tokens (B, T), for inspection; None without it."""
        if self.attention is None:
            return None
        y, _ = self.rnn(self.embed(ids), lengths=lengths)
        valid = torch.arange(y.shape[1], device=y.device)[None] < lengths[:, None]
        return self.attention(y, valid)[1]
