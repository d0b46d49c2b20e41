"""The vocabularies of a translation model: text to ids and back, with the same four specials in both kinds.

    id 0 <pad>   id 1 <unk>   id 2 <s> (BOS)   id 3 </s> (EOS)

Normalization before either kind: runs of whitespace become one space, outer whitespace goes, and with
``lowercase`` the text is lower-cased. ``decode(encode(text)) == normalize(text)`` for any text made of
known words: BLEU is computed on the decoded text, so the spacing must come back as it was.

``bpe``: subwords trained by Hugging Face ``tokenizers``, SentencePiece style: a space becomes "▁" on the
word it precedes (Metaspace), so decoding is joining the pieces and turning "▁" back into spaces; the
pieces stay readable ("▁Männer") for attention plots, unlike byte-level BPE's "Ã¤". Punctuation is its
own piece (as subword-nmt sees Moses-tokenized text), so "blue." does not spend a vocabulary entry. The
256 byte pieces "<0x00>".."<0xFF>" are in the vocabulary (byte fallback, as in Llama's tokenizer): a
character never seen in training is spelled in UTF-8 bytes, so nothing is unknown and it decodes back.
A "▁" in the text is read as a space.

``word``: words and single punctuation marks (the regular expression of ``encoder.WORD``), with OpenNMT
Tokenizer's joiner annotation (``joiner_annotate``): a mark written without a space before it carries "￭"
on that side ("blue." -> "blue", "￭."; "(blue)" -> "(￭", "blue", "￭)"). Decoding puts a space between
two tokens unless one of them has a joiner towards the other, so the original spacing comes back
exactly ("A man , in blue." too), where a rule-based detokenizer (Moses') has to guess quotes and
apostrophes. Words never carry joiners, so the vocabulary is not doubled; a "￭" in the text is read as a
space. Words outside the vocabulary read as <unk> and decode as "<unk>".
"""

import itertools
import json
from collections import Counter
from typing import Iterable, List, Sequence, Tuple

from .encoder import WORD
from .text import DataError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
KINDS = ("bpe", "word")
JOINER = "\uffed"  # "￭", OpenNMT Tokenizer's joiner
SPACE = "\u2581"  # "▁", SentencePiece's meta space
BYTES = tuple(f"<0x{b:02X}>" for b in range(256))


class Vocabulary:
    """One side's vocabulary (source or target). Build it with ``fit``; save it with ``to_json``."""

    def __init__(self, kind: str, lowercase: bool = False, symbols: Sequence[str] = (), bpe=None):
        _check_kind(kind)
        if kind == "bpe" and bpe is None:
            raise ValueError("a vocabulary of kind 'bpe' needs its tokenizer (bpe=...)")
        self.kind, self.lowercase = kind, lowercase
        self.bpe = bpe  # a tokenizers.Tokenizer (kind "bpe")
        self.symbols = list(symbols) if kind == "word" else []
        self.index = {s: i for i, s in enumerate(self.symbols)}
        if bpe is not None:
            bpe.encode_special_tokens = True  # "<s>" typed in a sentence is text, not BOS (not saved by to_str)
        found = tuple(self.tokens(range(len(SPECIALS)))) if len(self) >= len(SPECIALS) else ()
        if found != SPECIALS:
            raise DataError(f"vocabulary: ids 0..3 are {list(found)}, expected {list(SPECIALS)}")

    # --- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(cls, kind: str, texts: Iterable[str], vocab_size: int = 8000, min_count: int = 1,
            lowercase: bool = False) -> "Vocabulary":
        """The ``vocab_size`` most useful symbols of ``texts`` (specials included; BPE: the 256 byte pieces
        too) seen at least ``min_count`` times (BPE: merges made at least that often)."""
        _check_kind(kind)
        smallest = len(SPECIALS) + (len(BYTES) + 1 if kind == "bpe" else 1)
        if not isinstance(vocab_size, int) or vocab_size < smallest:
            raise ValueError(f"vocab_size={vocab_size!r}: expected at least {smallest} for kind {kind!r}")
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count={min_count!r}: expected a whole number >= 1")
        texts = [_normalize(text, kind, lowercase) for text in texts]
        if not any(texts):
            raise DataError("no text to fit a vocabulary on")
        if kind == "bpe":
            return cls(kind, lowercase, bpe=_train_bpe(texts, vocab_size, min_count))
        counts = Counter(token for text in texts for token in split_words(text))
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(kind, lowercase, list(SPECIALS) + words[:vocab_size - len(SPECIALS)])

    # --- text to ids and back --------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        return _normalize(text, self.kind, self.lowercase)

    def encode(self, text: str) -> List[int]:
        """The ids of ``text``, without BOS and EOS."""
        text = self.normalize(text)
        if self.kind == "bpe":
            return self.bpe.encode(text, add_special_tokens=False).ids
        return [self.index.get(token, UNK) for token in split_words(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids`` up to the first EOS, PAD and BOS skipped, detokenized."""
        content = []
        for i in self._checked(ids):
            if i == EOS:
                break
            if i not in (PAD, BOS):
                content.append(i)
        if self.kind == "bpe":
            return self.bpe.decode(content, skip_special_tokens=False)
        return _detokenize(self.symbols[i] for i in content)

    def tokens(self, ids: Sequence[int]) -> List[str]:
        """The symbol of each id, specials included (one per id: labels for an attention plot's axes)."""
        if self.kind == "bpe":
            return [self.bpe.id_to_token(i) for i in self._checked(ids)]
        return [self.symbols[i] for i in self._checked(ids)]

    def _checked(self, ids: Sequence[int]) -> List[int]:
        ids = [int(i) for i in ids]  # a tensor's elements too
        size = len(self)
        bad = [i for i in ids if not 0 <= i < size]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside the vocabulary of {size} symbols")
        return ids

    def __len__(self) -> int:
        return len(self.symbols) if self.kind == "word" else self.bpe.get_vocab_size()

    # --- saving ----------------------------------------------------------------------------------
    def to_json(self) -> dict:
        data = {"kind": self.kind, "lowercase": self.lowercase}
        if self.kind == "word":
            data["symbols"] = self.symbols
        else:
            data["tokenizer"] = self.bpe.to_str()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        kind = data.get("kind")
        _check_kind(kind)
        key = "tokenizer" if kind == "bpe" else "symbols"
        if key not in data or "lowercase" not in data:
            raise DataError(f"vocabulary of kind {kind!r}: expected the keys 'lowercase' and {key!r}, "
                            f"found {sorted(data)}")
        if kind == "word":
            return cls(kind, data["lowercase"], data["symbols"])
        from tokenizers import Tokenizer

        return cls(kind, data["lowercase"], bpe=Tokenizer.from_str(data["tokenizer"]))


def fit_vocabularies(sources: Iterable[str], targets: Iterable[str], kind: str = "bpe", joint: bool = True,
                     vocab_size: int = 8000, min_count: int = 1,
                     lowercase: bool = False) -> Tuple[Vocabulary, Vocabulary]:
    """(source vocabulary, target vocabulary). ``joint``: one vocabulary fitted on both sides, returned
    twice (the same object), as for related languages sharing subwords (and tied embeddings)."""
    if joint:
        vocabulary = Vocabulary.fit(kind, itertools.chain(sources, targets), vocab_size, min_count, lowercase)
        return vocabulary, vocabulary
    return (Vocabulary.fit(kind, sources, vocab_size, min_count, lowercase),
            Vocabulary.fit(kind, targets, vocab_size, min_count, lowercase))


def split_words(text: str) -> List[str]:
    """Word level: the tokens of a normalized text, with joiners where there was no space."""
    tokens, end = [], -1
    for match in WORD.finditer(text):
        token = match.group()
        if match.start() == end:  # no space since the previous token, so one of the two is a mark
            if token[0].isalnum() or token[0] == "_":  # a word (\w) after a mark: the mark joins right
                tokens[-1] += JOINER
            else:
                token = JOINER + token
        tokens.append(token)
        end = match.end()
    return tokens


def _detokenize(tokens: Iterable[str]) -> str:
    """Word-level tokens back to text: a space between two tokens unless a joiner says there was none."""
    pieces, attached = [], True  # nothing before the first token
    for token in tokens:
        if not attached and not token.startswith(JOINER):
            pieces.append(" ")
        pieces.append(token.removeprefix(JOINER).removesuffix(JOINER))
        attached = token.endswith(JOINER)
    return "".join(pieces)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise DataError(f"vocabulary of kind {kind!r}: expected one of {KINDS}")


def _normalize(text: str, kind: str, lowercase: bool) -> str:
    text = " ".join(text.replace(JOINER if kind == "word" else SPACE, " ").split())  # a marker in the text is a space
    return text.lower() if lowercase else text


def _train_bpe(texts: List[str], vocab_size: int, min_count: int):
    """A Metaspace BPE tokenizer with byte fallback: ids 0..3 the specials, 4..259 the bytes, then the
    pieces in the order the trainer found them. The trainer cannot add byte pieces itself, so the trained
    vocabulary and merges are rebuilt into a BPE model that has them."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    metaspace = dict(replacement=SPACE, prepend_scheme="always", split=True)
    pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(**metaspace),
                                             pre_tokenizers.Punctuation("isolated")])
    trained = Tokenizer(models.BPE(unk_token=SPECIALS[UNK]))
    trained.pre_tokenizer = pre_tokenizer
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(BYTES), min_frequency=min_count,
                                  special_tokens=list(SPECIALS), show_progress=False)
    trained.train_from_iterator(texts, trainer=trainer)
    model = json.loads(trained.to_str())["model"]
    vocab = {symbol: i for i, symbol in enumerate(SPECIALS + BYTES)}
    for symbol, _ in sorted(model["vocab"].items(), key=lambda item: item[1]):
        vocab.setdefault(symbol, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]  # new, old format
    bpe = Tokenizer(models.BPE(vocab, merges, unk_token=SPECIALS[UNK], byte_fallback=True))
    bpe.pre_tokenizer = pre_tokenizer
    bpe.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(**metaspace)])
    bpe.add_special_tokens(list(SPECIALS))
    return bpe
