"""Pretrained vectors: GloVe and word2vec text formats, exact matches before lower-cased ones, coverage
reports, and errors naming the line."""

import pytest
import torch

from rnnkit.data.text import DataError
from rnnkit.data.vectors import load_vectors

SYMBOLS = ["<pad>", "<unk>", "the", "movie", "great", "zzz"]


def test_glove_format(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("the 1 2 3\nmovie 4 5 6\nunrelated 7 8 9\n", encoding="utf-8")
    vectors = load_vectors(str(path), SYMBOLS)
    assert vectors.dimension == 3
    assert vectors.found.tolist() == [False, False, True, True, False, False]
    torch.testing.assert_close(vectors.weight[2:4], torch.tensor([[1.0, 2, 3], [4, 5, 6]]))
    assert vectors.weight[4:].abs().sum() == 0
    assert vectors.report() == "2 of 4 vocabulary words have a pretrained vector (50.0%)"
    counts = [0, 0, 6, 2, 1, 1]  # "the" and "movie" are 8 of the 10 tokens
    assert vectors.report(counts).endswith("covering 80.0% of the tokens")


def test_word2vec_header_and_cased_words(tmp_path):
    path = tmp_path / "w2v.txt"
    path.write_text("3 2\nGreat 1 1\ngreat 2 2\nMovie 3 3\n", encoding="utf-8")
    vectors = load_vectors(str(path), SYMBOLS)
    assert vectors.dimension == 2
    torch.testing.assert_close(vectors.weight[4], torch.tensor([2.0, 2.0]))  # exact beats lower-cased
    torch.testing.assert_close(vectors.weight[3], torch.tensor([3.0, 3.0]))  # Movie serves movie


def test_bad_vector_files(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("the 1 2 3\nmovie 4 5\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt:2: 2 numbers, the vectors before have 3"):
        load_vectors(str(path), SYMBOLS)
    path.write_text("the 1 x 3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt:1: the vector of 'the' holds something that is not a number"):
        load_vectors(str(path), SYMBOLS)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no vectors"):
        load_vectors(str(path), SYMBOLS)
