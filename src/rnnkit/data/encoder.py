"""Texts to id sequences for classifiers and taggers: words (a regular expression) or subwords (BPE).

Id 0 is always ``<pad>``, so a padded batch needs no other convention. Word level keeps the
``vocab_size`` most frequent words seen at least ``min_count`` times; the rest read as ``<unk>`` (id 1)
and are counted, so the caller can report how much of a text the model did not know. Subword level is
byte-level BPE trained by Hugging Face ``tokenizers``: nothing is ever unknown.

Normalization before either: HTML tags such as IMDB's ``<br />`` become spaces (``strip_html``), and
text is lower-cased (``lowercase``). The encoder saves as plain JSON (``to_json`` / ``from_json``).
"""

import re
from collections import Counter
from typing import Iterable, List, Tuple

from .text import DataError

PAD, UNK = "<pad>", "<unk>"
KINDS = ("word", "bpe")
# a word (letters, digits, underscores, with inner apostrophes: don't, o'clock) or one other symbol
WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
HTML_TAG = re.compile(r"<[a-zA-Z/][^<>]{0,80}>")


class TextEncoder:
    def __init__(self, kind: str, lowercase: bool = True, strip_html: bool = True, symbols: List[str] = (),
                 bpe=None):
        if kind not in KINDS:
            raise DataError(f"tokenizer {kind!r}: expected one of {KINDS}")
        self.kind, self.lowercase, self.strip_html = kind, lowercase, strip_html
        self.bpe = bpe  # a tokenizers.Tokenizer (kind "bpe")
        self.symbols = list(symbols) if kind == "word" else []
        self.index = {s: i for i, s in enumerate(self.symbols)}

    # --- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(cls, kind: str, texts: Iterable[str], lowercase: bool = True, strip_html: bool = True,
            vocab_size: int = 0, min_count: int = 1) -> "TextEncoder":
        encoder = cls(kind, lowercase, strip_html)
        if kind == "word":
            counts = Counter(token for text in texts for token in encoder.words(text))
            words = sorted((w for w, c in counts.items() if c >= min_count and w not in (PAD, UNK)),
                           key=lambda w: (-counts[w], w))
            if vocab_size:
                words = words[:max(0, vocab_size - 2)]
            return cls(kind, lowercase, strip_html, [PAD, UNK] + words)
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        bpe.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size or 16000, min_frequency=max(min_count, 2),
                                      show_progress=False, special_tokens=[PAD],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        bpe.train_from_iterator((encoder.normalize(t) for t in texts), trainer=trainer)
        return cls(kind, lowercase, strip_html, bpe=bpe)

    # --- encoding --------------------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        if self.strip_html:
            text = HTML_TAG.sub(" ", text)
        return text.lower() if self.lowercase else text

    def words(self, text: str) -> List[str]:
        """Word level: the tokens of a text (normalized)."""
        return WORD.findall(self.normalize(text))

    def encode(self, text: str) -> Tuple[List[int], int]:
        """(ids, how many tokens were unknown)."""
        if self.kind == "bpe":
            return self.bpe.encode(self.normalize(text)).ids, 0
        unk, ids, unknown = self.index[UNK], [], 0
        for word in self.words(text):
            i = self.index.get(word, unk)
            unknown += i == unk
            ids.append(i)
        return ids, unknown

    def encode_all(self, texts: List[str]) -> Tuple[List[List[int]], int, int]:
        """(id lists, unknown tokens, all tokens) for many texts (BPE encodes them in parallel)."""
        if self.kind == "bpe":
            ids = [e.ids for e in self.bpe.encode_batch([self.normalize(t) for t in texts])]
            return ids, 0, sum(map(len, ids))
        encoded = [self.encode(t) for t in texts]
        return [e[0] for e in encoded], sum(e[1] for e in encoded), sum(len(e[0]) for e in encoded)

    def __len__(self) -> int:
        return len(self.symbols) if self.kind == "word" else self.bpe.get_vocab_size()

    def token_strings(self) -> List[str]:
        """The symbol of each id (word level: the words; BPE: its byte-level pieces)."""
        if self.kind == "word":
            return self.symbols
        vocab = self.bpe.get_vocab()
        return [s for s, _ in sorted(vocab.items(), key=lambda kv: kv[1])]

    # --- saving ----------------------------------------------------------------------------------
    def to_json(self) -> dict:
        data = {"kind": self.kind, "lowercase": self.lowercase, "strip_html": self.strip_html}
        if self.kind == "word":
            data["symbols"] = self.symbols
        else:
            data["tokenizer"] = self.bpe.to_str()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "TextEncoder":
        kind = data.get("kind")
        if kind == "bpe":
            from tokenizers import Tokenizer

            return cls(kind, data["lowercase"], data["strip_html"], bpe=Tokenizer.from_str(data["tokenizer"]))
        if kind == "word":
            return cls(kind, data["lowercase"], data["strip_html"], data["symbols"])
        raise DataError(f"text encoder of kind {kind!r}: expected one of {KINDS}")
