"""`rnnkit train tag | evaluate | tag` (resume: tests/test_tasks.py) end to end, in process, on tiny generated CoNLL data."""

import io
import json
import os
import random

import pytest
import torch

from rnnkit.cli import EXIT_BAD_INPUT, main
from rnnkit.data.schemes import convert, spans
from rnnkit.tasks import tagging
from rnnkit.training.logs import read_metrics

from .tiny import not_utf8_input


TINY = ["--set", "train.threads=1", "--set", "train.plot=false", "--set", "train.tensorboard=false",
        "--set", "model.hidden_size=16", "--set", "model.word_embedding_size=16", "--set", "model.char_hidden_size=6",
        "--set", "model.char_embedding_size=6", "--set", "data.batch_size=8", "--set", "train.lr=0.01",
        "--set", "model.input_dropout=0.1", "--set", "model.output_dropout=0.1"]
NAMES, PLACES, ORGS = ["Peter", "Mary", "John"], ["Paris", "Berlin", "London"], ["EU", "UN"]
FILLER = "the of visited said in and met".split()


def sentences(n, seed=0):
    rng = random.Random(seed)
    result = []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.randint(2, 7)):
            r = rng.random()
            if r < 0.15:
                tokens += [rng.choice(NAMES), "Smith"]
                tags += ["B-PER", "I-PER"]
            elif r < 0.3:
                tokens.append(rng.choice(PLACES))
                tags.append("B-LOC")
            elif r < 0.4:
                tokens.append(rng.choice(ORGS))
                tags.append("B-ORG")
            else:
                tokens.append(rng.choice(FILLER))
                tags.append("O")
        result.append((tokens, tags))
    return result


def write_conll(path, data, scheme="iob2"):
    with open(path, "w", encoding="utf-8") as f:
        f.write("-DOCSTART- -X- O\n\n")
        for tokens, tags in data:
            f.writelines(f"{t} NN {g}\n" for t, g in zip(tokens, convert(tags, scheme)))
            f.write("\n")
    return str(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tag")
    train = write_conll(tmp / "train.txt", sentences(200))
    valid = write_conll(tmp / "valid.txt", sentences(40, seed=1))
    out = str(tmp / "run")
    assert main(["train", "tag", "--data", train, "--valid", valid, "--out", out, "--quiet", *TINY,
                 "--set", "train.max_epochs=6", "--set", "train.eval_every=50", "--set", "train.monitor=f1"]) == 0
    return out, train, valid


def test_training_finds_the_entities(run):
    out, _, _ = run
    report = json.load(open(os.path.join(out, "report.json")))
    assert report["f1"] >= 0.9 and set(report["per_type"]) == {"LOC", "ORG", "PER"}
    assert any(r["kind"] == "final" for r in read_metrics(os.path.join(out, "metrics.jsonl")))


def test_evaluate_agrees_with_spans_counted_here(run, capsys):
    out, _, valid = run
    capsys.readouterr()
    assert main(["evaluate", out, "--data", valid, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    trained = tagging.load_trained(out)
    data = sentences(40, seed=1)
    predicted = trained.tag([tokens for tokens, _ in data])
    gold = {(i, s) for i, (_, tags) in enumerate(data) for s in spans(tags)}
    found = {(i, s) for i, tags in enumerate(predicted) for s in spans(tags)}
    precision, recall = len(gold & found) / len(found), len(gold & found) / len(gold)
    assert metrics["f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert metrics["sentences"] == 40


def test_tag_conll_text_and_json(run, tmp_path, capsys, monkeypatch):
    out, _, valid = run
    capsys.readouterr()
    assert main(["tag", out, valid]) == 0
    lines = capsys.readouterr().out.split("\n")
    original = open(valid, encoding="utf-8").read().split("\n")
    assert len(lines) == len(original)
    for line, source in zip(lines, original):  # every token line gains one column, the rest is kept
        assert line == source or (line.startswith(source + " ") and len(line.split()) == len(source.split()) + 1)
    monkeypatch.setattr("sys.stdin", io.StringIO("Peter Smith visited Paris.\n\nthe EU said\n"))
    assert main(["tag", out, "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().split("\n")]
    assert records[1] == {"text": "", "spans": []}
    text = records[0]["text"]
    for span in records[0]["spans"]:
        assert text[span["start"]:span["end"]] == span["text"]
    assert {s["text"] for s in records[0]["spans"]} >= {"Peter Smith", "Paris"}


def test_output_is_in_the_input_scheme(tmp_path, capsys):
    train = write_conll(tmp_path / "train.txt", sentences(60), scheme="iob1")
    out = str(tmp_path / "run")
    assert main(["train", "tag", "--data", train, "--out", out, "--quiet", *TINY, "--set", "train.max_steps=2",
                 "--set", "model.output=softmax", "--set", "model.char_encoder=cnn"]) == 0
    trained = tagging.load_trained(out)
    assert trained.scheme == "iob1" and trained.config.data.train_scheme == "iobes"
    assert any(t.startswith("E-") or t.startswith("S-") for t in trained.vocabulary.tags)
    for tags in trained.tag([["Peter", "Smith", "met", "Mary", "in", "Paris"]] * 3):
        assert convert(tags, "iob1") == tags  # written in IOB1


def test_bad_input(run, tmp_path, capsys):
    out, _, _ = run
    bad = tmp_path / "bad.txt"
    bad.write_text("Peter NN B-PER\nSmith I-PER\n", encoding="utf-8")
    assert main(["evaluate", out, "--data", str(bad)]) == EXIT_BAD_INPUT
    assert "bad.txt:2: 2 columns, the file's first token line has 3" in capsys.readouterr().err
    bad.write_text("Peter NN Z-PER\n", encoding="utf-8")
    assert main(["evaluate", out, "--data", str(bad)]) == EXIT_BAD_INPUT
    assert "bad.txt:1: tag 'Z-PER' is not a span tag" in capsys.readouterr().err
    long = write_conll(tmp_path / "long.txt", [(["the"] * 30, ["O"] * 30)])
    assert main(["train", "tag", "--data", long, "--out", str(tmp_path / "r"), *TINY, "--set", "train.max_steps=1",
                 "--set", "data.max_length=20"]) == EXIT_BAD_INPUT
    assert "long.txt:3: a sentence of 30 tokens, longer than the limit of 20" in capsys.readouterr().err
    assert main(["tag", out, "--input", "conll"]) == EXIT_BAD_INPUT


def test_an_entity_type_never_seen_in_training_is_scored_as_a_miss(run, tmp_path, capsys):
    """A valid type the training data lacked (DATE) is not an error: its spans are gold spans the model
    cannot find (recall), its tokens are token-accuracy misses, and the loss is over the other sentences."""
    out, _, _ = run
    data = sentences(40, seed=1)
    data[3] = (["on", "Monday", "Peter", "Smith", "left"], ["O", "B-DATE", "B-PER", "I-PER", "O"])
    data[7] = (["Friday"], ["B-DATE"])
    path = write_conll(tmp_path / "dates.txt", data)
    capsys.readouterr()
    assert main(["evaluate", out, "--data", path, "--json"]) == 0
    captured = capsys.readouterr()
    metrics = json.loads(captured.out)
    assert metrics["per_type"]["DATE"]["support"] == 2 and metrics["per_type"]["DATE"]["recall"] == 0
    assert metrics["unseen_tags"] == {"B-DATE": 2}
    assert f"{path}: tags the model was not trained on (B-DATE x2; the first at {path}:" in captured.err
    trained = tagging.load_trained(out)
    predicted = trained.tag([tokens for tokens, _ in data])
    gold = {(i, s) for i, (_, tags) in enumerate(data) for s in spans(tags)}
    found = {(i, s) for i, tags in enumerate(predicted) for s in spans(tags)}
    assert metrics["recall"] == pytest.approx(len(gold & found) / len(gold))
    assert metrics["precision"] == pytest.approx(len(gold & found) / len(found))
    tokens = sum(len(t) for t, _ in data)
    right = sum(p == g for (_, tags), guess in zip(data, predicted) for p, g in zip(guess, tags))
    assert metrics["accuracy"] == pytest.approx(right / tokens)  # IOB2 both sides; a DATE token is never right
    known = [d for i, d in enumerate(data) if i not in (3, 7)]  # the loss: the sentences of known types alone
    assert main(["evaluate", out, "--data", write_conll(tmp_path / "known.txt", known), "--json"]) == 0
    assert metrics["loss"] == pytest.approx(json.loads(capsys.readouterr().out)["loss"], rel=1e-5)


@pytest.mark.parametrize("tag, problem", [
    ("Z-PER", "tag 'Z-PER' is not a span tag: expected O or B-, I-, E-, S- followed by a type"),
    ("b-loc", "tag 'b-loc' has a lower-case prefix 'b'; write it B-loc"),
    ("U-PER", "tag 'U-PER' has BILOU's prefix 'U'; write it S-PER"),
    ("B-", "tag 'B-' has no type after its prefix"),
    ("NNP", "tag 'NNP' is not a span tag"),
])
def test_a_tag_outside_the_schemes_is_named_with_its_line(tmp_path, capsys, tag, problem):
    data = sentences(30)
    data[2] = (["Peter", "left"], [tag, "O"])
    path = tmp_path / "train.txt"  # as written, not through write_conll's scheme conversion
    path.write_text("".join("".join(f"{t} NN {g}\n" for t, g in zip(*d)) + "\n" for d in data), encoding="utf-8")
    line = 1 + sum(len(t) + 1 for t, _ in data[:2])
    path = str(path)
    assert main(["train", "tag", "--data", path, "--out", str(tmp_path / "run"), *TINY,
                 "--set", "train.max_steps=1"]) == EXIT_BAD_INPUT
    assert f"{path}:{line}: {problem}" in capsys.readouterr().err
    records = tmp_path / "train.jsonl"
    records.write_text("".join(json.dumps({"tokens": t, "tags": g}) + "\n" for t, g in data), encoding="utf-8")
    assert main(["train", "tag", "--data", str(records), "--out", str(tmp_path / "run"), *TINY,
                 "--set", "train.max_steps=1"]) == EXIT_BAD_INPUT
    assert f"{records}:3: tags[0]: {problem}" in capsys.readouterr().err


def test_iobes_tags_in_a_file_said_to_be_iob2_are_named(tmp_path, capsys):
    path = write_conll(tmp_path / "train.txt", sentences(30), scheme="iobes")
    assert main(["train", "tag", "--data", path, "--out", str(tmp_path / "run"), *TINY, "--set", "train.max_steps=1",
                 "--set", "data.scheme=iob2"]) == EXIT_BAD_INPUT
    assert "is IOBES, but data.scheme='iob2' (set data.scheme=iobes, or auto)" in capsys.readouterr().err
    iob2 = write_conll(tmp_path / "iob2.txt", sentences(30), scheme="iob2")  # trained on files said to be IOB2 ...
    assert main(["train", "tag", "--data", iob2, "--out", str(tmp_path / "run"), *TINY, "--set", "train.max_steps=1",
                 "--set", "data.scheme=iob2"]) == 0
    assert main(["evaluate", str(tmp_path / "run"), "--data", path]) == 0  # ... and scored on an IOBES file


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_bytes_that_are_not_utf8_are_named_with_their_line(run, tmp_path, capsys, monkeypatch, source):
    out, _, _ = run
    where, args = not_utf8_input("Peter Smith visited Paris\nthe EU said\nMary met Jos\xe9 in Berlin\n", tmp_path,
                                 monkeypatch, source)
    assert main(["tag", out, *args, "--input", "text"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"{where}: not UTF-8 text (byte 0xe9)" in err and "Traceback" not in err


def test_pretrained_vectors_and_json_lines(tmp_path, capsys):
    data = sentences(60)
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"tokens": t, "tags": g}) + "\n" for t, g in data), encoding="utf-8")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("2 4\nparis 1 0 0 0\nPeter 0 1 0 0\n", encoding="utf-8")
    out = str(tmp_path / "run")
    assert main(["train", "tag", "--data", str(train), "--out", out, *TINY, "--set", "train.max_steps=2",
                 "--set", f"data.vectors={vectors}", "--set", "model.freeze_embeddings=true"]) == 0
    assert "2 of " in capsys.readouterr().err  # the coverage report: paris, and Peter for peter
    trained = tagging.load_trained(out)
    assert trained.config.model.word_embedding_size == 4
    torch.testing.assert_close(trained.model.word_embedding.weight[trained.vocabulary.word_index["peter"]],
                               torch.tensor([0.0, 1, 0, 0]))
    assert main(["tag", out, str(train)]) == 0  # JSON lines in: JSON lines out
    records = [json.loads(line) for line in capsys.readouterr().out.strip().split("\n")]
    assert len(records) == 60 and records[0]["tokens"] == data[0][0] and len(records[0]["tags"]) == len(data[0][0])
