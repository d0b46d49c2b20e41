"""Tiny data and command lines for every task, shared by the contract test over all tasks
(tests/test_tasks.py) and by the script that saved the runs of an earlier rnnkit which the current one
must still load (tests/fixtures/saved_runs/make.py). Only rnnkit's command line is used, so the same
file drives any version of it.

``TASKS[name](directory)`` writes the task's data under ``directory`` (relative names, so a run that
records them resumes from another working directory) and returns a ``Tiny``: the arguments of
`rnnkit train` (without --out), of `rnnkit evaluate` and of the task's prediction verb (both without
the run directory, which goes right after the verb).
"""

import random
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple

import numpy as np

# dropout stays on (each task's defaults, and more below), so a resumed run must restore every RNG state
COMMON = ["--quiet", "--set", "train.threads=1", "--set", "train.plot=false", "--set", "train.tensorboard=false",
          "--set", "train.max_steps=30", "--set", "train.eval_every=10", "--set", "train.checkpoint_every=10",
          "--set", "train.lr=0.02", "--set", "train.keep=1"]


class Tiny(NamedTuple):
    train: List[str]     # `rnnkit train TASK ...` without --out
    evaluate: List[str]  # `rnnkit evaluate RUN_DIR ...` (prints one JSON object)
    verb: str            # the task's prediction verb
    predict: List[str]   # `rnnkit VERB RUN_DIR ...`
    metric: str          # a key evaluate's JSON always has


def _write(path: Path, lines) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def lm(directory: Path) -> Tiny:
    corpus = _write(directory / "corpus.txt", [f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}"
                                               for i in range(120)])
    sets = ["model.hidden_size=12", "model.num_layers=1", "data.batch_size=4", "data.bptt=16",
            "data.eval_batch_size=2", "data.eval_bptt=32", "data.random_bptt=true"]
    return Tiny(["lm", "--data", corpus, *COMMON, *_sets(sets)], ["--data", corpus, "--json"], "generate",
                ["--prompt", "line", "--max-tokens", "12", "--seed", "3"], "perplexity")


def classify(directory: Path) -> Tiny:
    rng = random.Random(0)
    filler, good, bad = "the movie was a film and it plot".split(), ["great", "loved"], ["awful", "dull"]
    rows = ["text,label"]
    for _ in range(80):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(filler, k=rng.randint(2, 8)) + [rng.choice(good if label == "pos" else bad)]
        rng.shuffle(words)
        rows.append(f"{' '.join(words)},{label}")
    data = _write(directory / "reviews.csv", rows)
    texts = _write(directory / "texts.txt", ["the film was great", "dull plot"])
    sets = ["model.hidden_size=8", "model.embedding_size=8", "data.batch_size=8", "data.min_count=1",
            "model.embedding_dropout=0.1", "train.monitor=accuracy"]
    return Tiny(["classify", "--data", data, *COMMON, *_sets(sets)], ["--data", data, "--json"], "predict",
                [texts, "--json"], "accuracy")


def tag(directory: Path) -> Tiny:
    rng = random.Random(0)
    lines = []
    for _ in range(60):
        for _ in range(rng.randint(2, 6)):
            r = rng.random()
            token, label = ((rng.choice(["Paris", "Berlin"]), "B-LOC") if r < 0.25 else
                            (rng.choice(["Peter", "Mary"]), "B-PER") if r < 0.5 else (rng.choice(["the", "met"]), "O"))
            lines.append(f"{token} NN {label}")
        lines.append("")
    data = _write(directory / "train.conll", lines)
    sets = ["model.hidden_size=8", "model.word_embedding_size=8", "model.char_hidden_size=4",
            "model.char_embedding_size=4", "data.batch_size=8"]
    return Tiny(["tag", "--data", data, *COMMON, *_sets(sets)], ["--data", data, "--json"], "tag",
                [data, "--json"], "f1")


def forecast(directory: Path) -> Tiny:
    rng = np.random.default_rng(0)
    t = np.arange(200)
    load = 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.2 * rng.standard_normal(len(t))
    wind = rng.standard_normal(len(t))
    times = np.datetime64("2021-03-01T00:00") + t.astype("timedelta64[h]")
    data = _write(directory / "series.csv", ["date,load,wind"] + [f"{str(s).replace('T', ' ')},{v:.4f},{w:.4f}"
                                                                  for s, v, w in zip(times, load, wind)])
    sets = ["model.hidden_size=8", "model.num_layers=1", "data.batch_size=16", "data.train_size=0.6",
            "data.valid_size=0.2", "backtest.baselines=[last]", "model.input_dropout=0.1"]
    return Tiny(["forecast", "--data", data, "--target", "load", "--covariates", "wind", "--horizon", "4",
                 "--context", "12", *COMMON,
                 *_sets(sets)], ["--data", data, "--json"], "forecast", ["--data", data], "valid")


def seq2seq(directory: Path) -> Tiny:
    rng = random.Random(0)
    words = dict(zip("ka lo mi pu".split(), "zebu wolk fin dra".split()))
    pairs = []
    for _ in range(60):
        source = rng.choices(list(words), k=rng.randint(2, 4))
        pairs.append(f"{' '.join(source)}\t{' '.join(words[w] for w in reversed(source))} .")
    data = _write(directory / "pairs.tsv", pairs)
    sources = _write(directory / "sources.txt", ["ka lo", "mi pu ka"])
    sets = ["model.hidden_size=8", "model.embedding_size=8", "data.batch_size=8", "data.tokenizer=word",
            "data.joint_vocab=false", "model.teacher_forcing=0.8", "train.monitor=bleu"]
    return Tiny(["seq2seq", "--data", data, *COMMON, *_sets(sets)], ["--data", data, "--json", "--greedy"],
                "translate", [sources, "--greedy"], "bleu")


def _sets(settings) -> List[str]:
    return [arg for setting in settings for arg in ("--set", setting)]


TASKS: Dict[str, Callable[[Path], Tiny]] = {"lm": lm, "classify": classify, "tag": tag, "forecast": forecast,
                                            "seq2seq": seq2seq}


def not_utf8_input(text: str, tmp_path, monkeypatch, source: str):
    """``text`` as Latin-1 bytes in a file or on stdin (``source``): (where its third line is named, the
    command-line arguments that read it)."""
    import io

    raw = text.encode("latin-1")
    if source == "file":
        (tmp_path / "in.txt").write_bytes(raw)
        return f"{tmp_path / 'in.txt'}:3", [str(tmp_path / "in.txt")]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    return "<stdin>:3", []
