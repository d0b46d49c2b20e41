"""Decoding and scoring a sequence-to-sequence model: greedy or beam search over batches sorted by
length, teacher-forced perplexity, and BLEU/chrF (sacrebleu) of the detokenized hypotheses. The task
(seq2seq.py) validates with these during training and reports with them at the end; a trained run
translates and evaluates with them.

Perplexity is exp of the mean negative log-likelihood per target token (EOS included) without label
smoothing, whatever ``model.label_smoothing`` trains with.
"""
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..data.batches import pad
from ..data.subwords import BOS, EOS, PAD, Vocabulary
from ..models.beam_search import Hypothesis, beam_search
from ..models.seq2seq import Seq2Seq
from ..training.bleu import corpus_scores


@dataclass(frozen=True)
class DecodeConfig:
    """Beam search for the final evaluation, `rnnkit evaluate` and `rnnkit translate` (whose options
    override it). Validation during training decodes greedily under the same length limit."""
    beam_size: int = 5
    length_penalty: float = 0.6     # alpha of GNMT's ((5 + |Y|) / 6) ^ alpha; 0 = none
    max_length_a: float = 1.5       # at most floor(a * source tokens + b) tokens before EOS
    max_length_b: float = 10.0

    def __post_init__(self):
        if not isinstance(self.beam_size, int) or self.beam_size < 1:
            raise ValueError(f"decode.beam_size={self.beam_size!r}: expected an integer >= 1")
        for name in ("length_penalty", "max_length_a", "max_length_b"):
            if getattr(self, name) < 0:
                raise ValueError(f"decode.{name}={getattr(self, name)!r}: expected a number >= 0")
        if self.max_length_a == 0 and self.max_length_b < 1:
            raise ValueError(f"decode.max_length_a=0 and decode.max_length_b={self.max_length_b!r}: every output "
                             "would be empty; expected max_length_b >= 1 or max_length_a > 0")

    def describe(self, greedy: bool = False) -> str:
        return "greedy" if greedy else f"beam {self.beam_size}, length penalty {self.length_penalty:g}"


def with_specials(sequence: List[int]) -> List[int]:
    return [BOS] + sequence + [EOS]



def detokenize(vocabulary: Vocabulary, tokens: Sequence[int]) -> str:
    """The text of a hypothesis, on one line: a byte piece can spell a line break, which would shift
    every later line of the output (and of valid.hyp.txt)."""
    return vocabulary.decode(tokens).replace("\r", " ").replace("\n", " ")


# --- decoding and scoring ----------------------------------------------------------------------------
def _device(model: Seq2Seq) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def decode(model: Seq2Seq, sources: List[List[int]], settings: DecodeConfig, batch_size: int,
           greedy: bool = False, n_best: int = 1) -> List[List[Hypothesis]]:
    """Per source sentence (id lists, non-empty) its hypotheses, best first, in the input's order.
    Sentences are sorted by length and batched. Greedy hypotheses have no score (NaN)."""
    model.eval()
    device = _device(model)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    results: List[List[Hypothesis]] = [[] for _ in sources]
    a, b = settings.max_length_a, settings.max_length_b
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        source, lengths = pad([sources[i] for i in rows])
        source, lengths = source.to(device), lengths.to(device)
        if greedy:
            tokens, attention = model.greedy(source, lengths, a, b)  # (B, T'), (B, T', S)
            for r, row in enumerate(rows):
                ids = tokens[r].tolist()
                n = ids.index(EOS) if EOS in ids else len(ids)
                weights = None if attention is None else attention[r, :n, :int(lengths[r])].cpu()
                results[row] = [Hypothesis(ids[:n], float("nan"), weights)]
        else:
            found = beam_search(model, source, lengths, settings.beam_size, n_best, settings.length_penalty, a, b)
            for row, hypotheses in zip(rows, found):
                results[row] = [h._replace(attention=None if h.attention is None else h.attention.cpu())
                                for h in hypotheses]
    return results


@torch.no_grad()
def negative_log_likelihood(model: Seq2Seq, sources: List[List[int]], targets: List[List[int]],
                            batch_size: int) -> Tuple[float, int]:
    """(summed NLL of the target tokens, EOS included, teacher-forced and without label smoothing, tokens)."""
    model.eval()
    device = _device(model)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    total, count = 0.0, 0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        source, lengths = pad([sources[i] for i in rows])
        target, _ = pad([with_specials(targets[i]) for i in rows])
        source, lengths, target = source.to(device), lengths.to(device), target.to(device)
        logits = model(source, lengths, target[:, :-1])  # (B, T-1, V)
        gold = target[:, 1:]  # (B, T-1)
        total += float(F.cross_entropy(logits.float().flatten(0, 1), gold.flatten(), ignore_index=PAD,
                                       reduction="sum"))
        count += int((gold != PAD).sum())
    return total, count


def score(model: Seq2Seq, sources: List[List[int]], targets: List[List[int]], references: Sequence[str],
          target_vocab: Vocabulary, settings: DecodeConfig, batch_size: int, greedy: bool,
          full: bool = False) -> Tuple[dict, List[str]]:
    """(metrics, hypotheses as text): loss (mean NLL per target token), perplexity, BLEU and chrF (0..100,
    sacrebleu on detokenized text); ``full`` adds sacrebleu's signature and its detailed line."""
    nll, tokens = negative_log_likelihood(model, sources, targets, batch_size)
    found = decode(model, sources, settings, batch_size, greedy)
    hypotheses = [detokenize(target_vocab, h[0].tokens) for h in found]
    scores = corpus_scores(hypotheses, references, lowercase=target_vocab.lowercase)
    loss = nll / max(tokens, 1)
    metrics = {"loss": loss, "perplexity": float(torch.tensor(loss).exp()), "bleu": scores["bleu"],
               "chrf": scores["chrf"], "sentences": len(sources), "target_tokens": tokens}
    if full:
        metrics.update(decoding=settings.describe(greedy), bleu_signature=scores["bleu_signature"],
                       bleu_details=scores["bleu_details"])
    return metrics, hypotheses
