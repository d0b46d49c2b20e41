"""Summarization on real text that needs no download: headline generation from the Reuters news
stories of CoNLL-2003 (../shared/data/conll2003), the task of Rush et al. 2015 (Gigaword: the
article's first sentence -> its headline) on a corpus a thousand times smaller.

Each CoNLL document is a Reuters story: -DOCSTART-, the headline, usually a byline and a dateline
("BRUSSELS 1996-08-22"), then the story. A pair is (the story's first sentences, up to --words
tokens; the headline). Stories without a dateline in their first four sentences are left out.

    python bench/headlines.py make ../shared/data/conll2003 runs/headlines-data    # train.tsv, valid.tsv
    rnnkit train seq2seq --data runs/headlines-data/train.tsv --valid runs/headlines-data/valid.tsv \\
        --config configs/headlines.yaml --out runs/headlines
    python bench/headlines.py lead runs/headlines-data/valid.tsv     # the lead baseline's BLEU and chrF

The lead baseline (Rush et al.'s "prefix") is the first n tokens of the source, n the mean headline
length of the training pairs; it is the usual floor a summarizer must beat.
"""

import argparse
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from rnnkit.training.bleu import corpus_scores  # noqa: E402

DATELINE = re.compile(r"\b\d{4}-\d{2}-\d{2}$")


def documents(path):
    """Per document, its sentences as token lists (the first column of a CoNLL file)."""
    document, sentence = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            token = line.split(" ", 1)[0].strip()
            if token == "-DOCSTART-":
                if document:
                    yield document
                document, sentence = [], []
            elif token:
                sentence.append(token)
            elif sentence:
                document.append(sentence)
                sentence = []
    if sentence:
        document.append(sentence)
    if document:
        yield document


def pair(document, words):
    """(source, headline) or None when the story has no dateline or no text after it."""
    for i, sentence in enumerate(document[1:5], start=1):
        if DATELINE.search(" ".join(sentence)):
            story = [token for s in document[i + 1:] for token in s]
            if not story:
                return None
            return " ".join(story[:words]), " ".join(document[0])
    return None


def make(args):
    os.makedirs(args.out, exist_ok=True)
    for split, name in (("train", "train.txt"), ("valid", "valid.txt")):
        docs = list(documents(os.path.join(args.conll, name)))
        pairs = [p for p in (pair(d, args.words) for d in docs) if p]
        path = os.path.join(args.out, f"{split}.tsv")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.writelines(f"{source}\t{target}\n" for source, target in pairs)
        os.replace(path + ".tmp", path)
        lengths = [len(t.split()) for _, t in pairs]
        print(f"{path}: {len(pairs)} pairs from {len(docs)} documents; headline tokens mean "
              f"{statistics.mean(lengths):.1f}, median {statistics.median(lengths):g}")


def lead(args):
    with open(args.valid, encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for line in f]
    n = args.tokens
    if not n:
        with open(os.path.join(os.path.dirname(args.valid), "train.tsv"), encoding="utf-8") as f:
            n = round(statistics.mean(len(line.rstrip("\n").split("\t")[1].split()) for line in f))
    hypotheses = [" ".join(source.split()[:n]) for source, _ in pairs]
    scores = corpus_scores(hypotheses, [target for _, target in pairs], lowercase=args.lowercase)
    print(f"lead {n} tokens on {len(pairs)} pairs: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f} "
          f"({scores['bleu_signature']})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="write train.tsv and valid.tsv")
    m.add_argument("conll", help="the folder with train.txt and valid.txt")
    m.add_argument("out")
    m.add_argument("--words", type=int, default=60, help="source tokens kept from the start of the story")
    m.set_defaults(run=make)
    b = sub.add_parser("lead", help="BLEU and chrF of the first n source tokens")
    b.add_argument("valid")
    b.add_argument("--tokens", type=int, default=0, help="n; 0 = the mean headline length in train.tsv")
    b.add_argument("--lowercase", action="store_true", help="case-insensitive scores, as data.lowercase")
    b.set_defaults(run=lead)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
