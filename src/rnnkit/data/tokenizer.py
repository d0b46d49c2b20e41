"""Tokenizers for language models: characters, whitespace words, and byte-level BPE.

Each one maps text to ids and back, reports symbols it does not know instead of failing, and saves as
plain JSON (``to_json`` / ``tokenizer_from_json``) so that a checkpoint's vocabulary loads without
running code. BPE is trained and run by Hugging Face ``tokenizers`` (the field's standard library).
"""

from collections import Counter
from typing import Iterable, Iterator, List, Tuple

from .text import DataError

UNK, EOS = "<unk>", "<eos>"


class CharTokenizer:
    """One id per character seen in the training text (sorted, so the ids are reproducible).
    Characters outside the vocabulary are dropped from the input and reported."""

    kind = "char"

    def __init__(self, symbols: List[str]):
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def fit(cls, text: str) -> "CharTokenizer":
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.symbols)

    def encode_checked(self, text: str) -> Tuple[List[int], Counter]:
        """(ids, unknown symbols with their counts)."""
        ids, unknown = [], Counter()
        for ch in text:
            i = self.index.get(ch)
            if i is None:
                unknown[ch] += 1
            else:
                ids.append(i)
        return ids, unknown

    def encode(self, text: str) -> List[int]:
        return self.encode_checked(text)[0]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.symbols[i] for i in ids)

    def stream_decode(self, ids: Iterable[int]) -> Iterator[str]:
        for i in ids:
            yield self.symbols[i]

    def to_json(self) -> dict:
        return {"kind": self.kind, "symbols": self.symbols}


class WordTokenizer:
    """Whitespace-separated words, one ``<eos>`` at the end of every line (the classic word-level
    language-model convention, as in Mikolov's PTB and pytorch/examples). Words outside the vocabulary,
    or rarer than ``min_count`` in training, become ``<unk>``."""

    kind = "word"

    def __init__(self, symbols: List[str]):
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.unk, self.eos = self.index[UNK], self.index[EOS]

    @classmethod
    def fit(cls, text: str, max_size: int = 0, min_count: int = 1) -> "WordTokenizer":
        counts = Counter(word for line in text.splitlines() for word in line.split())
        counts.pop(UNK, None)
        counts.pop(EOS, None)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_size:
            words = words[:max(0, max_size - 2)]
        return cls([EOS, UNK] + words)

    def __len__(self) -> int:
        return len(self.symbols)

    def encode_checked(self, text: str, add_eos: bool = True) -> Tuple[List[int], Counter]:
        ids, unknown = [], Counter()
        lines = text.splitlines()
        for n, line in enumerate(lines):
            for word in line.split():
                i = self.index.get(word)
                if i is None:
                    unknown[word] += 1
                    i = self.unk
                ids.append(i)
            if add_eos or n < len(lines) - 1:
                ids.append(self.eos)
        return ids, unknown

    def encode(self, text: str) -> List[int]:
        return self.encode_checked(text)[0]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.stream_decode(ids))

    def stream_decode(self, ids: Iterable[int]) -> Iterator[str]:
        start = True
        for i in ids:
            if i == self.eos:
                yield "\n"
                start = True
            else:
                yield ("" if start else " ") + self.symbols[i]
                start = False

    def to_json(self) -> dict:
        return {"kind": self.kind, "symbols": self.symbols}


class BPETokenizer:
    """Byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant) trained with Hugging Face
    ``tokenizers``. Every byte is in the base alphabet, so no input is ever unknown."""

    kind = "bpe"

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    @classmethod
    def fit(cls, text: str, vocab_size: int = 8000, min_count: int = 2) -> "BPETokenizer":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_count, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
        return cls(tokenizer)

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode_checked(self, text: str) -> Tuple[List[int], Counter]:
        return self.tokenizer.encode(text).ids, Counter()

    def encode(self, text: str) -> List[int]:
        return self.encode_checked(text)[0]

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode(list(ids))

    def stream_decode(self, ids: Iterable[int]) -> Iterator[str]:
        """Text as soon as it is whole: a token may end inside a multi-byte character, so pending ids
        wait until they decode without a replacement character."""
        pending: List[int] = []
        for i in ids:
            pending.append(i)
            piece = self.tokenizer.decode(pending)
            if not piece.endswith("\ufffd") or len(pending) >= 8:
                pending = []
                yield piece
        if pending:
            yield self.tokenizer.decode(pending)

    def to_json(self) -> dict:
        return {"kind": self.kind, "tokenizer": self.tokenizer.to_str()}


KINDS = ("char", "word", "bpe")


def fit_tokenizer(kind: str, text: str, vocab_size: int = 0, min_count: int = 1):
    """A tokenizer of ``kind`` fitted on the training ``text``."""
    if kind == "char":
        return CharTokenizer.fit(text)
    if kind == "word":
        return WordTokenizer.fit(text, max_size=vocab_size, min_count=min_count)
    if kind == "bpe":
        return BPETokenizer.fit(text, vocab_size=vocab_size or 8000, min_count=max(min_count, 2))
    raise DataError(f"tokenizer {kind!r}: expected one of {KINDS}")


def tokenizer_from_json(data: dict):
    """The inverse of ``to_json``; reads data only."""
    kind = data.get("kind")
    if kind == "char":
        return CharTokenizer(data["symbols"])
    if kind == "word":
        return WordTokenizer(data["symbols"])
    if kind == "bpe":
        from tokenizers import Tokenizer

        return BPETokenizer(Tokenizer.from_str(data["tokenizer"]))
    raise DataError(f"vocabulary of kind {kind!r}: expected one of {KINDS}")
