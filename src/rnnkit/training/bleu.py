"""Corpus BLEU and chrF of detokenized translations, as sacrebleu computes them (Post, 2018,
https://aclanthology.org/W18-6319): its defaults, 13a tokenization, one reference per hypothesis.

    p_n  = sum over sentences of clipped n-gram matches / sum of hypothesis n-grams   (n = 1..4)
    BP   = 1 if c > r else exp(1 - r / c)     c, r: hypothesis and reference lengths in tokens
    BLEU = 100 * BP * exp(mean_n log p_n)      (Papineni et al., 2002; counts summed over the corpus)

Scores come from the text a user would read, never from the model's own tokens, so that they compare
with published figures; the signature says exactly how they were computed.
"""

from typing import Sequence

from sacrebleu.metrics import BLEU, CHRF


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], lowercase: bool = False) -> dict:
    """{"bleu", "chrf": 0..100, "bleu_signature": sacrebleu's signature, "bleu_details": its line with the
    n-gram precisions and the brevity penalty}. ``lowercase``: case-insensitive (sacrebleu's -lc; the
    signature says case:lc), for a model trained on lower-cased text."""
    hypotheses, references = list(hypotheses), list(references)
    if not hypotheses:
        raise ValueError("no hypotheses to score; expected at least one translation")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references; expected one "
                         "reference per hypothesis")
    for name, texts in (("hypothesis", hypotheses), ("reference", references)):
        bad = next((i for i, text in enumerate(texts) if not isinstance(text, str)), None)
        if bad is not None:
            raise ValueError(f"{name} {bad} is {type(texts[bad]).__name__}, expected a detokenized string")
    bleu = BLEU(lowercase=lowercase)
    score = bleu.corpus_score(hypotheses, [references])
    return {"bleu": score.score, "chrf": CHRF(lowercase=lowercase).corpus_score(hypotheses, [references]).score,
            "bleu_signature": str(bleu.get_signature()), "bleu_details": str(score)}
