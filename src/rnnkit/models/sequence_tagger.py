"""A sequence tagger: the BiLSTM-CRF of Lample et al. 2016 (and Huang et al. 2015), as flair and
glample/tagger build it.

    w_t = E_word[word_t]                              (B, T, Ew)  lower-cased words; word dropout -> <unk>
    c_t = CharEncoder(characters of word_t)           (B, T, Ec)  BiLSTM final states (Lample et al.) or
                                                                  CNN + max over time (Ma & Hovy 2016)
    k_t = E_case[casing(word_t)]                      (B, T, Ek)  Collobert et al. 2011's casing feature
    x_t = dropout([w_t; c_t; k_t])
    y, _ = Recurrent(x, lengths)                      (B, T, N*H) bidirectional LSTM/GRU over the sentence
                                                                  (H is proj_size if an LSTM projects)
    e_t = W_out dropout(y_t) + b_out                  (B, T, C)   emission scores
    loss = CRF negative log-likelihood (models/crf.py), or cross entropy per token (``output="softmax"``)
    tags = Viterbi decoding, or argmax per token

The loss is the sum over a batch's sentences (CRF) or tokens (softmax) divided by its tokens, so both
outputs train on the same scale.
"""

from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import Recurrent, RecurrentConfig, RecurrentOptions
from ..layers.exportable import exporting
from .crf import CRF

CHAR_ENCODERS = ("lstm", "cnn", "none")
OUTPUTS = ("crf", "softmax")
UNK_ID = 1  # the encoders' id for an unknown word or character (0 is padding)


@dataclass(frozen=True)
class SequenceTaggerConfig(RecurrentOptions):
    # the sentence encoder's options (layers/config.py), with this task's defaults
    hidden_size: int = 200          # H per direction
    bidirectional: bool = True
    input_dropout: float = 0.5      # on [w; c; k] (Lample et al.: 0.5)
    # the model's own
    word_embedding_size: int = 100  # Ew (the vectors' own size when data.vectors is given)
    char_encoder: str = "lstm"      # lstm (Lample et al.), cnn (Ma & Hovy) or none
    char_embedding_size: int = 25
    char_hidden_size: int = 25      # lstm: per direction; cnn: the number of filters
    char_kernel_size: int = 3       # cnn only
    case_embedding_size: int = 0    # Ek; 0 = no casing feature
    output: str = "crf"             # crf or softmax
    output_dropout: float = 0.5     # on y before the emission layer
    word_dropout: float = 0.05      # a word's embedding replaced by <unk>'s, so <unk> is learned
    freeze_embeddings: bool = False

    WHOLE = RecurrentOptions.WHOLE + ("word_embedding_size",)
    RATES = RecurrentOptions.RATES + ("output_dropout", "word_dropout")

    def __post_init__(self):
        super().__post_init__()
        if self.char_encoder not in CHAR_ENCODERS:
            raise self.invalid("char_encoder", f"one of {CHAR_ENCODERS}")
        if self.output not in OUTPUTS:
            raise self.invalid("output", f"one of {OUTPUTS}")
        for name in ("char_embedding_size", "char_hidden_size", "char_kernel_size"):
            if self.char_encoder != "none" and getattr(self, name) < 1:
                raise self.invalid(name, "an integer >= 1")
        if self.case_embedding_size < 0:
            raise self.invalid("case_embedding_size", "an integer >= 0 (0 = off)")

    @property
    def char_output_size(self) -> int:
        return {"lstm": 2 * self.char_hidden_size, "cnn": self.char_hidden_size, "none": 0}[self.char_encoder]


class CharEncoder(nn.Module):
    """One vector per word from its characters: chars (n, L) with lengths (n,) -> (n, Ec)."""

    def __init__(self, kind: str, num_chars: int, embedding_size: int, hidden_size: int, kernel_size: int):
        super().__init__()
        self.kind = kind
        self.embedding = nn.Embedding(num_chars, embedding_size, padding_idx=0)
        if kind == "lstm":
            self.rnn = Recurrent(RecurrentConfig("lstm", input_size=embedding_size, hidden_size=hidden_size,
                                                 bidirectional=True))
        else:
            self.conv = nn.Conv1d(embedding_size, hidden_size, kernel_size, padding=kernel_size // 2)

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(chars)  # (n, L, Ec_in)
        if self.kind == "lstm":
            _, state = self.rnn(x, lengths=lengths)
            return torch.cat([state.h[0], state.h[1]], -1)  # forward's last char, reverse's first: (n, 2Hc)
        h = self.conv(x.transpose(1, 2)).transpose(1, 2)  # (n, L, Hc)
        valid = torch.arange(chars.shape[1], device=chars.device)[None] < lengths[:, None]
        return h.masked_fill(~valid[..., None], float("-inf")).amax(1)  # (n, Hc)


class SequenceTagger(nn.Module):
    """batch {"words" (B, T), "chars" (B, T, L), "char_lengths" (B, T), "cases" (B, T), "lengths" (B,),
    ["tags" (B, T)]} -> emissions (B, T, C); ``loss`` and ``decode`` as above."""

    def __init__(self, config: SequenceTaggerConfig, num_words: int, num_chars: int, num_tags: int,
                 num_cases: int = 0, allowed: Optional[Tensor] = None, allowed_start: Optional[Tensor] = None,
                 allowed_end: Optional[Tensor] = None):
        super().__init__()
        self.config = cfg = config
        self.word_embedding = nn.Embedding(num_words, cfg.word_embedding_size, padding_idx=0)
        nn.init.uniform_(self.word_embedding.weight, -(3 / cfg.word_embedding_size) ** 0.5,
                         (3 / cfg.word_embedding_size) ** 0.5)  # Lample et al.'s uniform init, unit variance
        self.word_embedding.weight.requires_grad_(not cfg.freeze_embeddings)
        size = cfg.word_embedding_size
        self.char_encoder = None
        if cfg.char_encoder != "none":
            self.char_encoder = CharEncoder(cfg.char_encoder, num_chars, cfg.char_embedding_size,
                                            cfg.char_hidden_size, cfg.char_kernel_size)
            size += cfg.char_output_size
        self.case_embedding = None
        if cfg.case_embedding_size:
            self.case_embedding = nn.Embedding(max(num_cases, 1), cfg.case_embedding_size, padding_idx=0)
            size += cfg.case_embedding_size
        self.rnn = Recurrent(cfg.recurrent_config(size))
        self.emission = nn.Linear(cfg.num_directions * cfg.output_size, num_tags)
        self.crf = CRF(num_tags, allowed, allowed_start, allowed_end) if cfg.output == "crf" else None
        self.num_tags = num_tags

    def set_embeddings(self, weight: Tensor, found: Tensor) -> None:
        with torch.no_grad():
            self.word_embedding.weight[found] = weight[found].to(self.word_embedding.weight)

    def features(self, batch: dict) -> Tensor:
        """x (B, T, Ew + Ec + Ek): the input of the sentence encoder."""
        words = batch["words"]
        if self.training and self.config.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.config.word_dropout
            words = words.masked_fill(drop & (words > 0), UNK_ID)
        parts = [self.word_embedding(words)]
        if self.char_encoder is not None:
            valid = batch["char_lengths"] > 0  # (B, T): real tokens
            if exporting():  # no shape that depends on the data: every position, padding zeroed
                B, T, L = batch["chars"].shape
                encoded = self.char_encoder(batch["chars"].reshape(B * T, L),
                                            batch["char_lengths"].reshape(B * T).clamp(min=1))
                parts.append(encoded.reshape(B, T, -1).to(parts[0].dtype) * valid[..., None])
            else:
                chars = torch.zeros(*words.shape, self.config.char_output_size, device=words.device,
                                    dtype=parts[0].dtype)
                chars[valid] = self.char_encoder(batch["chars"][valid], batch["char_lengths"][valid]).to(chars.dtype)
                parts.append(chars)
        if self.case_embedding is not None:
            parts.append(self.case_embedding(batch["cases"]))
        return torch.cat(parts, -1)

    def forward(self, batch: dict) -> Tensor:
        cfg = self.config
        x = F.dropout(self.features(batch), cfg.input_dropout, self.training)
        y, _ = self.rnn(x, lengths=batch["lengths"])  # (B, T, N*H)
        return self.emission(F.dropout(y, cfg.output_dropout, self.training))  # (B, T, C)

    def emissions(self, batch: dict) -> Tensor:
        """Emission scores (B, T, C), in float32 at least (under autocast the CRF sums in float32)."""
        emissions = self(batch)
        return emissions.float() if emissions.dtype in (torch.float16, torch.bfloat16) else emissions

    def loss(self, batch: dict, carry=None, emissions: Optional[Tensor] = None):
        """(loss per token, tokens, None); pass ``emissions`` to reuse a forward pass already made."""
        emissions = self.emissions(batch) if emissions is None else emissions
        lengths, tags = batch["lengths"], batch["tags"]
        tokens = int(lengths.sum())
        if self.crf is not None:
            total = self.crf(emissions, tags, lengths).sum()
        else:
            valid = torch.arange(tags.shape[1], device=tags.device)[None] < lengths[:, None]
            total = F.cross_entropy(emissions[valid], tags[valid], reduction="sum")
        return total / tokens, tokens, None

    @torch.no_grad()
    def decode(self, batch: dict, emissions: Optional[Tensor] = None) -> List[List[int]]:
        """The predicted tag ids of each sentence (its own length)."""
        emissions = self.emissions(batch) if emissions is None else emissions
        lengths = batch["lengths"]
        if self.crf is not None:
            return self.crf.decode(emissions, lengths)
        best = emissions.argmax(-1)
        return [best[b, :int(n)].tolist() for b, n in enumerate(lengths)]
