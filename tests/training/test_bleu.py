"""Corpus BLEU and chrF: perfect translations score 100, a small corpus matches BLEU worked out by hand
from its definition, and unusable input is an error that says what was expected."""

import math

import pytest

from rnnkit.training.bleu import corpus_scores


def test_identical_translations_score_100():
    texts = ["A man in a blue shirt.", "Two dogs play in the snow!"]
    scores = corpus_scores(texts, texts)
    assert scores["bleu"] == pytest.approx(100) and scores["chrf"] == pytest.approx(100)
    assert "tok:13a" in scores["bleu_signature"] and scores["bleu_details"].startswith("BLEU = 100.00")


def test_bleu_matches_the_definition_worked_out_by_hand():
    """Counts are summed over the corpus before the precisions are taken (not averaged per sentence).

    sentence 1  hyp: the quick brown fox jumped over the dog        (8 tokens)
                ref: the quick brown fox jumped over the lazy dog   (9 tokens)
        1-grams 8/8; 2-grams 6/7 ("the dog" is not in ref); 3-grams 5/6 ("over the dog");
        4-grams 4/5 ("jumped over the dog")
    sentence 2  hyp = ref = "a man": 1-grams 2/2, 2-grams 1/1, no 3- or 4-grams
    corpus      p1 = 10/10, p2 = 7/8, p3 = 5/6, p4 = 4/5; c = 10, r = 11, so BP = exp(1 - 11/10)
    """
    hypotheses = ["the quick brown fox jumped over the dog", "a man"]
    references = ["the quick brown fox jumped over the lazy dog", "a man"]
    precisions = [10 / 10, 7 / 8, 5 / 6, 4 / 5]
    expected = 100 * math.exp(1 - 11 / 10) * math.exp(sum(math.log(p) for p in precisions) / 4)
    scores = corpus_scores(hypotheses, references)
    assert abs(scores["bleu"] - expected) < 0.01  # 79.08
    assert "BP = 0.905" in scores["bleu_details"] and "100.0/87.5/83.3/80.0" in scores["bleu_details"]
    assert 0 < scores["chrf"] < 100


@pytest.mark.parametrize("hypotheses, references, message", [
    ([], [], "no hypotheses to score"),
    (["a", "b"], ["a"], "2 hypotheses but 1 references; expected one reference per hypothesis"),
    (["a", ["b"]], ["a", "b"], "hypothesis 1 is list, expected a detokenized string"),
])
def test_unusable_input_is_an_error(hypotheses, references, message):
    with pytest.raises(ValueError, match=message):
        corpus_scores(hypotheses, references)
