"""A sequence-to-sequence model: a (bi)RNN encoder, a bridge, and an attentional RNN decoder with
input feeding (Luong et al. 2015), as OpenNMT-py builds it.

    m, final = Encoder(dropout(E_x x), lengths)   (B, S, N*H) memory, zero on padding; final (L*N, B, H)
                                                  (H is proj_size where an LSTM projects; its c stays hidden_size)
    s_0 = bridge(final)                           (L, B, H) per state part (h, and c for an LSTM):
        linear  h_0 = tanh(W_h [h fwd; h bwd]), and for an LSTM c_0 = W_c [c fwd; c bwd], for each layer
                (one W per part, shared by the layers): h stays in (-1, 1) as an RNN's output does, while
                an LSTM's cell state is unbounded (OpenNMT-py's default copies it as it is)
        copy    final as it is (a unidirectional encoder only)
        zero    0
    o_0 = 0
    for t = 1 .. T:
        x_t = [dropout(E_y y_{t-1}); o_{t-1}]     (B, E + H)  input feeding; without it x_t = dropout(E_y y_{t-1})
        h_t, s_t = RNN(x_t, s_{t-1})              (B, H)      the top layer's output
        a_t = softmax_s(score(h_t, m_s))          (B, S)      over the real source positions (attention.py;
                                                              additive takes h_t as its query: Luong's placement
                                                              of Bahdanau's score, OpenNMT-py's "mlp")
        c_t = sum_s a_ts m_s                      (B, N*H)
        h~_t = tanh(W_c [c_t; h_t])               (B, H)
        o_t = dropout(h~_t)                       (B, H)      fed to the next step as it is, as in OpenNMT-py
        logits_t = W_o o_t + b_o                  (B, V)      tied: W_o = E_y, o_t first mapped to E by W_p if H != E
    loss = mean over the target tokens of the cross entropy of logits_t against y_t, label-smoothed
           (torch's: eps/V on every class), padding ignored

Without attention (attention="none": Sutskever et al. 2014) the source reaches the decoder only through
s_0; then h~_t = h_t and nothing is fed back (input_feeding has nothing to feed). With input feeding or
a teacher forcing ratio below 1 the decoder steps token by token; otherwise every step's input is known
and it runs the whole target at once, attention included.

Teacher forcing: in training, each step (for the whole batch at once) feeds the gold y_{t-1} with
probability ``teacher_forcing``, else the model's own argmax at t-1 (Bengio et al. 2015's scheduled
sampling, with argmax). Decoding: ``greedy`` here, beam search in beam_search.py, both through
``encode`` and ``decode_step``.
"""

from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..cells.state import State, as_parts, from_parts
from ..layers import Recurrent, RecurrentOptions
from .attention import Attention

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # the special ids of both vocabularies
ATTENTIONS = ("additive", "dot", "general", "none")
BRIDGES = ("linear", "zero", "copy")


@dataclass(frozen=True)
class Seq2SeqConfig(RecurrentOptions):
    # the recurrent layers' options (layers/config.py), for the encoder and the decoder, with this task's
    # defaults; the decoder steps one token at a time, so its masks (input/recurrent/weight dropout) are
    # drawn anew at each step, and it is never bidirectional
    cell: str = "gru"
    hidden_size: int = 256          # H: the decoder's, and the encoder's per direction
    bidirectional: bool = True      # the encoder's N = 2: the memory is N*H wide
    dropout: float = 0.3            # between stacked layers, and also on the embeddings and on h~_t
    # the model's own
    embedding_size: int = 256       # E (both embeddings)
    attention: str = "additive"     # additive (Bahdanau), dot, general (Luong) or none; dot over a 2H memory
                                    # (bidirectional) maps it to H first, which makes it general (attention.py)
    attention_size: int = 0         # additive's A; 0 = H
    input_feeding: bool = True      # o_{t-1} joins the decoder's input (Luong et al. 2015)
    bridge: str = "linear"          # linear, zero or copy (encoder final state -> decoder initial state)
    teacher_forcing: float = 1.0    # probability of feeding the gold token at a training step
    label_smoothing: float = 0.1
    tie_embeddings: bool = False    # W_o = E_y (Press & Wolf 2017)
    share_embeddings: bool = False  # E_x = E_y: a joint vocabulary

    WHOLE = RecurrentOptions.WHOLE + ("embedding_size",)
    RATES = RecurrentOptions.RATES + ("label_smoothing",)

    def __post_init__(self):
        super().__post_init__()
        if self.attention not in ATTENTIONS:
            raise self.invalid("attention", f"one of {ATTENTIONS}")
        if self.bridge not in BRIDGES:
            raise self.invalid("bridge", f"one of {BRIDGES}")
        if self.bridge == "copy" and self.bidirectional:
            raise ValueError("model.bridge='copy': expected bidirectional=False (a bidirectional encoder's final "
                             "state is 2H wide, the decoder's H); use bridge='linear'")
        if self.bridge == "zero" and self.attention == "none":
            raise ValueError("model.bridge='zero': expected an attention: with attention='none' the source "
                             "reaches the decoder only through the bridge")
        if self.attention_size < 0:
            raise self.invalid("attention_size", "an integer >= 0 (0 = hidden_size)")
        if not isinstance(self.teacher_forcing, (int, float)) or not 0 <= self.teacher_forcing <= 1:
            raise self.invalid("teacher_forcing", "a number in [0, 1]")


class DecoderState(NamedTuple):
    """Everything a decoder step reads, B rows. ``select(index)`` picks (reorders, repeats) rows."""
    rnn: State                 # s_{t-1}: (L, B, H), or LSTMState(h, c) of two
    feed: Optional[Tensor]     # o_{t-1} (B, H); None without input feeding
    keys: Optional[Tensor]     # (B, S, K) the attention's precomputed keys; None without attention
    values: Optional[Tensor]   # (B, S, N*H) the memory, zero on padding
    mask: Tensor               # (B, S) True on real source tokens

    def select(self, index: Tensor) -> "DecoderState":
        def pick(x):
            return None if x is None else x.index_select(0, index)
        rnn = from_parts(tuple(p.index_select(1, index) for p in as_parts(self.rnn)))
        return DecoderState(rnn, pick(self.feed), pick(self.keys), pick(self.values), pick(self.mask))


def max_lengths(source_lengths: Tensor, a: float, b: float) -> Tensor:
    """The most tokens before EOS each sentence may get: floor(a * |x| + b), at least 0. (B,)"""
    return (a * source_lengths.double() + b).floor().clamp(min=0).long()


def restrict(log_probs: Tensor, step: int, max_length: Tensor, min_length: int = 0) -> Tensor:
    """-inf where a token may not come at ``step`` (0 = the first after BOS): PAD and BOS never, EOS
    before ``min_length`` tokens, anything but EOS once a row has its ``max_length`` (R,) tokens."""
    vocab = torch.arange(log_probs.shape[-1], device=log_probs.device)  # (V,)
    at_max = (step >= max_length.to(log_probs.device))[:, None]  # (R, 1)
    banned = (vocab == PAD) | (vocab == BOS) | ((vocab == EOS) & (step < min_length))  # (V,)
    return log_probs.masked_fill((banned & ~at_max) | (at_max & (vocab != EOS)), float("-inf"))


def _at_least_float32(x: Tensor) -> Tensor:
    """Under autocast the softmax runs in float32; float64 stays float64."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class Seq2Seq(nn.Module):
    """batch {"source" (B, S), "source_lengths" (B,), "target" (B, T) = [BOS y_1 .. y_n EOS] padded}."""

    def __init__(self, config: Seq2SeqConfig, source_vocab: int, target_vocab: int):
        super().__init__()
        for name, size in (("source_vocab", source_vocab), ("target_vocab", target_vocab)):
            if size <= EOS:
                raise ValueError(f"{name}={size}: expected > {EOS} (ids 0-3 are PAD, UNK, BOS, EOS)")
        if config.share_embeddings and source_vocab != target_vocab:
            raise ValueError(f"model.share_embeddings=True: expected one joint vocabulary, got "
                             f"source_vocab={source_vocab} and target_vocab={target_vocab}")
        self.config = cfg = config
        # H is the layers' output per direction: proj_size where an LSTM projects (its c stays hidden_size)
        E, H, N = cfg.embedding_size, cfg.output_size, cfg.num_directions
        self.source_embedding = self._embedding(source_vocab, E)
        self.target_embedding = (self.source_embedding if cfg.share_embeddings
                                 else self._embedding(target_vocab, E))
        self.encoder = Recurrent(cfg.recurrent_config(E))
        self.state_sizes = self.encoder.cells[0].state_sizes  # (h,) or an LSTM's (h, c), the decoder's too
        self.bridge = (nn.ModuleList(nn.Linear(N * size, size) for size in self.state_sizes)
                       if cfg.bridge == "linear" else None)
        self.feeds = cfg.input_feeding and cfg.attention != "none"
        self.decoder = Recurrent(cfg.recurrent_config(E + (H if self.feeds else 0), bidirectional=False))
        self.attention = self.combine = None
        if cfg.attention != "none":
            self.attention = Attention(cfg.attention, H, N * H, cfg.attention_size)
            self.combine = nn.Linear(N * H + H, H, bias=False)  # W_c
        # tied: the output matrix is E_y (V, E), so o_t goes to E first when H != E (as OpenNMT-py)
        self.projection = nn.Linear(H, E, bias=False) if cfg.tie_embeddings and H != E else None
        self.generator = nn.Linear(E if cfg.tie_embeddings else H, target_vocab)  # W_o, b_o
        if cfg.tie_embeddings:
            self.generator.weight = self.target_embedding.weight
        self.target_vocab = target_vocab

    @staticmethod
    def _embedding(vocab: int, size: int) -> nn.Embedding:
        embedding = nn.Embedding(vocab, size, padding_idx=PAD)
        nn.init.normal_(embedding.weight, std=0.1)  # small: it may also be the output matrix (tied)
        with torch.no_grad():
            embedding.weight[PAD].zero_()
        return embedding

    def embed(self, table: nn.Embedding, ids: Tensor) -> Tensor:
        return F.dropout(table(ids), self.config.dropout, self.training)  # (..., E)

    # --- encoder and bridge ----------------------------------------------------------------------
    def encode(self, source: Tensor, source_lengths: Tensor) -> DecoderState:
        """source (B, S), source_lengths (B,) -> the decoder's state before its first step."""
        lengths = source_lengths.to(source.device)
        B, S = source.shape
        mask = torch.arange(S, device=source.device)[None] < lengths[:, None]  # (B, S)
        memory, final = self.encoder(self.embed(self.source_embedding, source), lengths=lengths)  # (B, S, N*H)
        keys = values = feed = None
        if self.attention is not None:
            keys, values = self.attention.prepare(memory, mask)
        if self.feeds:
            feed = memory.new_zeros(B, self.config.output_size)
        return DecoderState(self._bridge(final, B), feed, keys, values, mask)

    def _bridge(self, final: State, B: int) -> State:
        """The encoder's final state (L*N, B, H) -> the decoder's initial state (L, B, H)."""
        cfg, L = self.config, self.config.num_layers
        N = 2 if cfg.bidirectional else 1
        parts = as_parts(final)
        if cfg.bridge == "zero":
            return from_parts(tuple(p.new_zeros(L, B, size) for p, size in zip(parts, self.state_sizes)))
        # torch's layout is layer-major, then direction: put each layer's directions side by side
        joined = [p.reshape(L, N, B, -1).transpose(1, 2).reshape(L, B, -1) for p in parts]  # (L, B, N*H)
        if cfg.bridge == "copy":
            return from_parts(joined)
        h, *c = (W(p) for W, p in zip(self.bridge, joined))  # c: [] or [the LSTM's cell state]
        return from_parts((torch.tanh(h), *c))

    # --- decoder ---------------------------------------------------------------------------------
    def _attend(self, h: Tensor, state: DecoderState):
        """h (B, [T,] H) -> o = dropout(h~) (B, [T,] H), weights (B, [T,] S) or None."""
        weights = None
        if self.attention is not None:
            context, weights = self.attention(h, state.keys, state.values, state.mask)  # (B, [T,] N*H)
            h = torch.tanh(self.combine(torch.cat([context, h], -1)))  # h~
        return F.dropout(h, self.config.dropout, self.training), weights

    def _logits(self, o: Tensor) -> Tensor:
        return self.generator(o if self.projection is None else self.projection(o))  # (B, [T,] V)

    def _step(self, embedded: Tensor, state: DecoderState):
        """One decoder step from E_y y_{t-1} (B, E) -> o_t (B, H), new state, weights (B, S) or None."""
        x = embedded if state.feed is None else torch.cat([embedded, state.feed], -1)  # (B, E [+ H])
        h, rnn = self.decoder.step(x, state.rnn)  # (B, H)
        o, weights = self._attend(h, state)  # (B, H)
        return o, state._replace(rnn=rnn, feed=o if self.feeds else None), weights

    def decode_step(self, token: Tensor, state: DecoderState):
        """token (B,) -> log-probabilities of the next token (B, V) in float32 at least, new state,
        attention weights (B, S) (None without attention)."""
        o, state, weights = self._step(self.embed(self.target_embedding, token), state)
        return F.log_softmax(_at_least_float32(self._logits(o)), -1), state, weights

    def forward(self, source: Tensor, source_lengths: Tensor, target: Tensor) -> Tensor:
        """The decoder's inputs target (B, T) = [BOS y_1 .. y_{T-1}] -> logits (B, T, V) for y_1 .. y_T."""
        cfg = self.config
        state = self.encode(source, source_lengths)
        embedded = self.embed(self.target_embedding, target)  # (B, T, E)
        sampling = self.training and cfg.teacher_forcing < 1
        if not (self.feeds or sampling):  # every input is known: the whole target at once
            h, _ = self.decoder(embedded, state.rnn)  # (B, T, H)
            return self._logits(self._attend(h, state)[0])  # (B, T, V)
        outputs = []
        for t in range(target.shape[1]):
            x = embedded[:, t]  # (B, E)
            if t > 0 and sampling and float(torch.rand(())) >= cfg.teacher_forcing:
                with torch.no_grad():  # the model's own guess: its argmax at t-1
                    guess = self._logits(outputs[-1]).argmax(-1)  # (B,)
                x = self.embed(self.target_embedding, guess)
            o, state, _ = self._step(x, state)
            outputs.append(o)
        # the output layer once for all steps: one large matmul, and one for its weight's gradient
        return self._logits(torch.stack(outputs, 1))  # (B, T, V)

    def loss(self, batch: dict, carry=None):
        """(mean cross entropy per target token, number of target tokens, None)."""
        target = batch["target"]
        logits = self(batch["source"], batch["source_lengths"], target[:, :-1])  # (B, T-1, V)
        gold = target[:, 1:]  # (B, T-1)
        loss = F.cross_entropy(_at_least_float32(logits).flatten(0, 1), gold.flatten(), ignore_index=PAD,
                               label_smoothing=self.config.label_smoothing)
        return loss, int((gold != PAD).sum()), None

    @torch.no_grad()
    def greedy(self, source: Tensor, source_lengths: Tensor, max_length_a: float = 1.5, max_length_b: float = 10):
        """The most likely token at each step, all sentences at once, in eval mode. At most
        floor(a*|x| + b) tokens before EOS (then EOS is forced). Returns tokens (B, T') without BOS, each row
        ending at its EOS and padded with PAD after, and attention (B, T', S) (zero after EOS; None
        without attention)."""
        was_training = self.training
        self.eval()
        try:
            state = self.encode(source, source_lengths)
            max_length = max_lengths(source_lengths, max_length_a, max_length_b).to(source.device)  # (B,)
            token = torch.full_like(max_length, BOS)  # (B,)
            done = torch.zeros_like(max_length, dtype=torch.bool)  # (B,)
            tokens, attention = [], []
            for step in range(int(max_length.max()) + 1):
                log_probs, state, weights = self.decode_step(token, state)
                token = restrict(log_probs, step, max_length).argmax(-1).masked_fill(done, PAD)  # (B,)
                tokens.append(token)
                if weights is not None:
                    attention.append(weights.masked_fill(done[:, None], 0.0))
                done = done | (token == EOS)
                if bool(done.all()):
                    break
        finally:
            self.train(was_training)
        return torch.stack(tokens, 1), (torch.stack(attention, 1) if attention else None)
