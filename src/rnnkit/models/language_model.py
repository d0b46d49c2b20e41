"""A recurrent language model: embedding -> stacked RNN/LSTM/GRU -> (projection) -> tied softmax.

    e_t = E[x_t]                           (B, T, E)  embedding, with embedding dropout (AWD-LSTM)
    y_t, state = Recurrent(e_t, state)     (B, T, P)  any rnnkit layer, with its regularizers (P = H
                                                       unless an LSTM projects)
    logits_t = W_out y_t + b_out           (B, T, V)  W_out = E when tied (Press & Wolf 2016;
                                                       Inan et al. 2016), with y_t projected to E if P != E
    loss = mean_t -log softmax(logits_t)[x_{t+1}]     nats per token

The model owns its loss (``loss``) and its decoding (``generate``, which streams one token at a time
through the layer's ``step`` API, so memory stays constant in the generated length).
"""

from dataclasses import dataclass
from typing import Iterator, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import Recurrent, RecurrentOptions


@dataclass(frozen=True)
class LanguageModelConfig(RecurrentOptions):
    # the recurrent layer's options (layers/config.py), with this task's defaults
    hidden_size: int = 512          # H
    num_layers: int = 2             # L
    dropout: float = 0.2            # between recurrent layers
    input_dropout: float = 0.2      # on the embeddings entering the first layer
    # the model's own
    embedding_size: int = 0         # E; 0 = hidden_size
    tie_weights: bool = False       # decoder weight = embedding (the output projected to E if they differ)
    output_dropout: float = 0.2     # on the last layer's output, before the decoder
    embedding_dropout: float = 0.0  # drops whole rows of E (AWD-LSTM's embedded_dropout)

    RATES = RecurrentOptions.RATES + ("output_dropout", "embedding_dropout")

    def __post_init__(self):
        super().__post_init__()
        if self.embedding_size < 0:
            raise self.invalid("embedding_size", "an integer >= 0 (0 = hidden_size)")
        if self.bidirectional:
            raise self.invalid("bidirectional", "false: a language model predicts each token from the ones before "
                                                "it, and a reverse direction would read the answer")


def sample_next(logits: Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                generator: Optional[torch.Generator] = None) -> Tensor:
    """One token id per row of ``logits`` (B, V). temperature 0 = greedy; top_k keeps the k most likely;
    top_p keeps the smallest set whose probability reaches p (nucleus sampling, Holtzman et al. 2020)."""
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if 0 < top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        outside = probs.cumsum(-1) - probs >= top_p  # the mass before this token already reaches p
        logits = logits.masked_fill(outside.scatter(-1, order, outside), float("-inf"))
    return torch.multinomial(logits.softmax(-1), 1, generator=generator)[..., 0]


class LanguageModel(nn.Module):
    def __init__(self, config: LanguageModelConfig, vocab_size: int):
        super().__init__()
        self.config, self.vocab_size = config, vocab_size
        E = config.embedding_size or config.hidden_size
        self.embedding = nn.Embedding(vocab_size, E)
        self.rnn = Recurrent(config.recurrent_config(E, output_dropout=config.output_dropout))
        out = config.output_size  # P with a projection, else H
        self.projection = nn.Linear(out, E, bias=False) if config.tie_weights and out != E else None
        self.decoder = nn.Linear(E if config.tie_weights else out, vocab_size)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight
        if config.tie_weights:  # the embedding is also the output matrix: small, as in AWD-LSTM
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        # untied, the embedding keeps torch's N(0, 1): measured on Tiny Shakespeare (2x512, AdamW 2e-3),
        # uniform +-0.1 (Zaremba et al.'s SGD-era choice) left the loss at 2.36 after 120 steps vs 2.09
        nn.init.zeros_(self.decoder.bias)

    def embed(self, tokens: Tensor) -> Tensor:
        weight = self.embedding.weight
        p = self.config.embedding_dropout
        if self.training and p > 0:  # drop whole words: every occurrence of a dropped word is zero
            keep = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p) / (1 - p)
            weight = weight * keep
        return F.embedding(tokens, weight)  # (B, T, E)

    def forward(self, tokens: Tensor, state=None):
        """tokens (B, T) -> logits (B, T, V), final state."""
        y, state = self.rnn(self.embed(tokens), state)  # (B, T, H)
        if self.projection is not None:
            y = self.projection(y)  # (B, T, E)
        return self.decoder(y), state

    def loss(self, batch: dict, state=None):
        """Mean cross-entropy (nats per token) of each next token; returns (loss, count, final state)."""
        logits, state = self(batch["input"], state)
        target = batch["target"]
        loss = F.cross_entropy(logits.float().reshape(-1, self.vocab_size), target.reshape(-1))
        return loss, target.numel(), state

    @torch.no_grad()
    def generate(self, prompt: List[int], max_tokens: int, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, generator: Optional[torch.Generator] = None,
                 stop: Optional[int] = None) -> Iterator[int]:
        """Token ids after ``prompt``, one at a time, until ``max_tokens`` or the ``stop`` id. The prompt runs
        through the layer at once; each new token is one ``step`` from the carried state."""
        if not prompt:
            raise ValueError("generate needs a prompt of at least one token")
        was_training = self.training
        self.eval()
        try:
            device = self.embedding.weight.device
            logits, state = self(torch.tensor([prompt], device=device))
            logits = logits[:, -1]  # (1, V)
            for _ in range(max_tokens):
                token = sample_next(logits, temperature, top_k, top_p, generator)  # (1,)
                yield int(token)
                if stop is not None and int(token) == stop:
                    return
                y, state = self.rnn.step(self.embed(token), state)  # (1, H)
                if self.projection is not None:
                    y = self.projection(y)
                logits = self.decoder(y)
        finally:
            self.train(was_training)
