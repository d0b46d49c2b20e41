"""Tagged sentences to ids: the word, character, casing and tag vocabularies of a sequence tagger, its
batches, and the tag transitions a scheme allows (for the CRF's constraints).

Words are looked up lower-cased and with digits replaced by 0 (Lample et al. 2016's ``zeros``), so
"1996-08-22" and "2001-01-17" share a vector; the characters and the casing feature keep what that
normalization loses. Id 0 is padding and id 1 ``<unk>`` in the word and character vocabularies.
"""

import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import torch

from .schemes import split

PAD, UNK = "<pad>", "<unk>"
UNSEEN = -1  # the id of a gold tag that the training data never had (evaluation only: always a miss)
# the casing classes of Reimers & Gurevych 2017 (after Collobert et al. 2011), tested in this order; 0 is padding
CASES = (PAD, "numeric", "mostly_numeric", "lower", "upper", "title", "has_digit", "other")
DIGIT = re.compile(r"\d")


def casing(token: str) -> int:
    digits = sum(c.isdigit() for c in token)
    if token.isdigit():
        kind = "numeric"
    elif digits / max(len(token), 1) > 0.5:
        kind = "mostly_numeric"
    elif token.islower():
        kind = "lower"
    elif token.isupper():
        kind = "upper"
    elif token[:1].isupper():
        kind = "title"
    elif digits:
        kind = "has_digit"
    else:
        kind = "other"
    return CASES.index(kind)


@dataclass
class TaggingVocabulary:
    words: List[str]
    chars: List[str]
    tags: List[str]
    lowercase: bool = True
    zeros: bool = True

    def __post_init__(self):
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self.tag_index = {t: i for i, t in enumerate(self.tags)}

    def normalize(self, token: str) -> str:
        token = token.lower() if self.lowercase else token
        return DIGIT.sub("0", token) if self.zeros else token

    @classmethod
    def fit(cls, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], lowercase: bool = True,
            zeros: bool = True, vocab_size: int = 0, min_count: int = 1) -> "TaggingVocabulary":
        probe = cls([PAD, UNK], [PAD, UNK], [], lowercase, zeros)
        words = Counter(probe.normalize(t) for s in sentences for t in s)
        kept = sorted((w for w, c in words.items() if c >= min_count), key=lambda w: (-words[w], w))
        if vocab_size:
            kept = kept[:max(0, vocab_size - 2)]
        chars = sorted({c for s in sentences for t in s for c in t})
        tag_set = sorted({t for s in tags for t in s}, key=lambda t: (split(t)[1], t))  # grouped by type
        if "O" in tag_set:
            tag_set.remove("O")
            tag_set.insert(0, "O")
        return cls([PAD, UNK] + kept, [PAD, UNK] + chars, tag_set, lowercase, zeros)

    def encode(self, tokens: Sequence[str]) -> Tuple[List[int], List[List[int]], List[int], int]:
        """(word ids, character ids per word, casing ids, unknown words)."""
        words = [self.word_index.get(self.normalize(t), 1) for t in tokens]
        chars = [[self.char_index.get(c, 1) for c in t] for t in tokens]
        return words, chars, [casing(t) for t in tokens], words.count(1)

    def tag_ids(self, tags: Sequence[str]) -> List[int]:
        """The ids of ``tags``; UNSEEN for a tag the model was not trained on (it can never be predicted)."""
        return [self.tag_index.get(tag, UNSEEN) for tag in tags]

    def to_json(self) -> dict:
        return {"words": self.words, "chars": self.chars, "tags": self.tags, "lowercase": self.lowercase,
                "zeros": self.zeros}

    @classmethod
    def from_json(cls, data: dict) -> "TaggingVocabulary":
        return cls(data["words"], data["chars"], data["tags"], data["lowercase"], data["zeros"])


def collate(items: Sequence[dict]) -> Dict[str, torch.Tensor]:
    """Encoded sentences ({"words", "chars", "cases"[, "tags"]}) -> a padded batch (B, T[, L])."""
    B = len(items)
    T = max(len(item["words"]) for item in items)
    L = max(len(chars) for item in items for chars in item["chars"])
    batch = {"words": torch.zeros(B, T, dtype=torch.long), "chars": torch.zeros(B, T, L, dtype=torch.long),
             "char_lengths": torch.zeros(B, T, dtype=torch.long), "cases": torch.zeros(B, T, dtype=torch.long),
             "lengths": torch.tensor([len(item["words"]) for item in items])}
    if "tags" in items[0]:
        batch["tags"] = torch.zeros(B, T, dtype=torch.long)
    for b, item in enumerate(items):
        n = len(item["words"])
        batch["words"][b, :n] = torch.tensor(item["words"])
        batch["cases"][b, :n] = torch.tensor(item["cases"])
        for t, chars in enumerate(item["chars"]):
            batch["chars"][b, t, :len(chars)] = torch.tensor(chars, dtype=torch.long)
            batch["char_lengths"][b, t] = len(chars)
        if "tags" in batch:
            batch["tags"][b, :n] = torch.tensor(item["tags"])
    return batch


def allowed_transitions(tags: Sequence[str], scheme: str):
    """(allowed (C, C), allowed_start (C,), allowed_end (C,)) for tags written in ``scheme``: the moves
    that can occur in a well-formed sequence (AllenNLP's allowed_transitions for BIO and BIOUL)."""
    C = len(tags)
    allowed = torch.ones(C, C, dtype=torch.bool)
    start, end = torch.ones(C, dtype=torch.bool), torch.ones(C, dtype=torch.bool)
    if scheme not in ("iob2", "iobes"):
        return allowed, start, end  # IOB1 allows every move
    parts = [split(t) for t in tags]
    for i, (p, kind) in enumerate(parts):
        if scheme == "iob2":
            start[i] = p != "I"
        else:
            start[i] = p in ("B", "S", "O")
            end[i] = p in ("E", "S", "O")
        for j, (q, next_kind) in enumerate(parts):
            if scheme == "iob2":
                ok = q != "I" or (p in ("B", "I") and kind == next_kind)
            else:
                inside = p in ("B", "I")  # a span is open after p: only I or E of its type may follow
                ok = (q in ("I", "E") and kind == next_kind) if inside else q in ("B", "S", "O")
            allowed[i, j] = ok
    return allowed, start, end
