"""`rnnkit train classify | evaluate | predict` (resume: tests/test_tasks.py) end to end, in process, on tiny data: what a
user types, what they get back, and the errors they see for bad input."""

import csv
import io
import json
import os
import random

import pytest
import torch

from rnnkit.cli import EXIT_BAD_INPUT, main
from rnnkit.tasks import classification
from rnnkit.training import resolve
from rnnkit.training.logs import read_metrics

from .tiny import not_utf8_input


TINY = ["--set", "train.threads=1", "--set", "train.plot=false", "--set", "train.tensorboard=false",
        "--set", "model.hidden_size=12", "--set", "model.embedding_size=12", "--set", "data.batch_size=8",
        "--set", "data.min_count=1", "--set", "train.lr=0.01"]
GOOD, BAD = ["great", "superb", "loved", "wonderful"], ["awful", "boring", "hated", "dull"]
FILLER = "the movie was a film and it i plot actors story".split()


def reviews(n, seed=0):
    """Texts whose label is given by one sentiment word among filler."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(FILLER, k=rng.randint(2, 12)) + [rng.choice(GOOD if label == "pos" else BAD)]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def write_csv(path, rows, header=("text", "label")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def data(tmp_path):
    return write_csv(tmp_path / "train.csv", reviews(240)), write_csv(tmp_path / "test.csv", reviews(60, seed=1))


@pytest.fixture
def run(data, tmp_path):
    out = str(tmp_path / "run")
    assert main(["train", "classify", "--data", data[0], "--out", out, "--quiet", *TINY,
                 "--set", "train.max_epochs=8", "--set", "train.eval_every=30", "--set", "train.monitor=accuracy"]) == 0
    return out


def test_train_learns_and_writes_its_report(data, tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "classify", "--data", data[0], "--out", run, "--quiet", *TINY,
                 "--set", "train.max_epochs=8", "--set", "train.eval_every=30", "--set", "train.monitor=accuracy"]) == 0
    out = capsys.readouterr().out
    assert "best valid accuracy" in out and "confusion (rows: true class" in out
    for name in ("config.yaml", "metrics.jsonl", "report.json", "confusion.png", "checkpoints/best.json"):
        assert os.path.exists(os.path.join(run, name)), name
    report = json.load(open(os.path.join(run, "report.json")))
    assert report["classes"] == ["neg", "pos"] and report["examples"] == 24  # 10% held out
    assert report["accuracy"] >= 0.9  # one word decides the label: the model must find it
    assert sum(map(sum, report["confusion"])) == 24
    final = [r for r in read_metrics(os.path.join(run, "metrics.jsonl")) if r["kind"] == "final"]
    assert final and final[0]["accuracy"] == report["accuracy"]


def test_evaluate_prints_the_table_and_json(run, data, tmp_path, capsys):
    capsys.readouterr()
    plot = str(tmp_path / "c.png")
    assert main(["evaluate", run, "--data", data[1], "--plot", plot]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "macro" in out and open(plot, "rb").read(4) == b"\x89PNG"
    assert main(["evaluate", run, "--data", data[1], "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    trained = classification.load_trained(run)
    texts, labels = zip(*reviews(60, seed=1))
    predicted = trained.predict(list(texts)).argmax(-1)
    expected = sum(trained.classes[int(p)] == label for p, label in zip(predicted, labels)) / 60
    assert metrics["accuracy"] == pytest.approx(expected) and metrics["examples"] == 60
    assert set(metrics["per_class"]) == {"neg", "pos"}


def test_predict_from_stdin_text_file_and_csv_in_input_order(run, data, tmp_path, capsys, monkeypatch):
    trained = classification.load_trained(run)
    texts = ["great great film", "boring", "the plot and the actors and the story was dull and long and slow"]
    alone = torch.cat([trained.predict([t]) for t in texts])  # one by one: no batching, no sorting
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n\n"))
    assert main(["predict", run, "--batch-size", "2"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert [line.split("\t")[0] for line in lines] == [trained.classes[int(i)] for i in alone.argmax(-1)]

    text_file = tmp_path / "in.txt"
    text_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
    assert main(["predict", run, str(text_file), "--json", "--batch-size", "2"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().split("\n")]
    assert [r["source"] for r in records] == [f"{text_file}:{i}" for i in (1, 2, 3)]
    for record, row in zip(records, alone):
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert record["probabilities"]["pos"] == pytest.approx(float(row[1]), abs=1e-5)

    table = write_csv(tmp_path / "in.csv", [(t, "x") for t in texts], header=("review", "whatever"))
    assert main(["predict", run, table, "--text-column", "review", "--json"]) == 0
    assert len(capsys.readouterr().out.strip().split("\n")) == 3


def test_bad_input_is_one_clear_error(run, data, tmp_path, capsys):
    capsys.readouterr()
    unknown = write_csv(tmp_path / "unknown.csv", [("good", "pos"), ("meh", "neutral")])
    assert main(["evaluate", run, "--data", unknown]) == EXIT_BAD_INPUT
    assert "unknown.csv:3: label 'neutral' is not one of the classes ['neg', 'pos']" in capsys.readouterr().err
    assert main(["evaluate", run, "--data", unknown, "--skip-bad"]) == 0
    assert "1 rows skipped (unknown label x1)" in capsys.readouterr().err
    no_column = write_csv(tmp_path / "nocol.csv", [("good", "pos")], header=("review", "label"))
    out = str(tmp_path / "other")
    assert main(["train", "classify", "--data", no_column, "--out", out, *TINY, "--set", "train.max_steps=1"]) == 1
    assert "nocol.csv:1: no text column 'text'; the header has ['review', 'label']" in capsys.readouterr().err
    assert main(["train", "lm", "--text-column", "x", "--out", out, "--set", "train.max_steps=1"]) == 1
    assert "--text-column is for `rnnkit train classify`" in capsys.readouterr().err
    assert main(["train", "classify", "--out", out, "--set", "train.max_steps=1"]) == 1
    assert "no training data" in capsys.readouterr().err
    assert main(["predict", str(tmp_path)]) == 1
    assert "not a run directory" in capsys.readouterr().err


def test_columns_folders_and_class_weights(tmp_path, capsys):
    for label in ("neg", "pos"):
        (tmp_path / "data" / label).mkdir(parents=True)
    for i, (text, label) in enumerate(reviews(80)):
        (tmp_path / "data" / label / f"{i}.txt").write_text(text, encoding="utf-8")
    out = str(tmp_path / "run")
    assert main(["train", "classify", "--data", str(tmp_path / "data"), "--out", out, "--quiet", *TINY,
                 "--set", "train.max_steps=2", "--set", "data.balance=class_weights"]) == 0
    trained = classification.load_trained(out)
    counts = torch.tensor([sum(1 for _, label in reviews(80) if label == c) for c in ("neg", "pos")])
    task = classification.Task(resolve(classification.RunConfig, {
        "data": {"train": str(tmp_path / "data"), "balance": "class_weights"}, "train": {"max_steps": 1}}))
    train_counts = torch.bincount(task.train_labels, minlength=2).double()
    torch.testing.assert_close(trained.model.class_weights.double(), train_counts.sum() / (2 * train_counts))
    assert counts.sum() == 80

    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"body": t, "stars": 5 if lab == "pos" else 1}) + "\n"
                             for t, lab in reviews(60)), encoding="utf-8")
    out = str(tmp_path / "run2")
    assert main(["train", "classify", "--data", str(jsonl), "--text-column", "body", "--label-column", "stars",
                 "--out", out, "--quiet", *TINY, "--set", "train.max_steps=2"]) == 0
    assert classification.load_trained(out).classes == ["1", "5"]


def test_pretrained_vectors_set_the_embedding_size_and_stay_frozen(data, tmp_path, capsys):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("great 1 0 0 0 0\nawful -1 0 0 0 0\nthe 0 1 0 0 0\n", encoding="utf-8")
    out = str(tmp_path / "run")
    assert main(["train", "classify", "--data", data[0], "--out", out, *TINY, "--set", "train.max_steps=3",
                 "--set", f"data.vectors={vectors}", "--set", "model.freeze_embeddings=true"]) == 0
    assert "3 of " in capsys.readouterr().err  # the coverage report
    trained = classification.load_trained(out)
    assert trained.config.model.embedding_size == 5
    index = trained.encoder.index
    torch.testing.assert_close(trained.model.embedding.weight[index["great"]], torch.tensor([1.0, 0, 0, 0, 0]))


def test_bpe_subwords_train_and_predict(data, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "classify", "--data", data[0], "--out", out, "--quiet", *TINY, "--set", "train.max_steps=3",
                 "--set", "data.tokenizer=bpe", "--set", "data.vocab_size=300", "--set", "data.truncation=tail",
                 "--set", "data.max_length=6", "--set", "model.pooling=attention", "--set", "model.cell=gru"]) == 0
    trained = classification.load_trained(out)
    assert trained.encoder.kind == "bpe" and len(trained.encoder) <= 300
    sequences, unknown, _ = trained.encode(["an unseen wordd, zebra!"])
    assert unknown == 0 and 0 < len(sequences[0]) <= 6
    probabilities = trained.predict(["great film", "awful"])
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(2))


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_predict_names_the_line_of_bytes_that_are_not_utf8(run, tmp_path, capsys, monkeypatch, source):
    where, args = not_utf8_input("a fine film\nawful\nun film tr\xe8s beau\n", tmp_path, monkeypatch, source)
    assert main(["predict", run, *args]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"{where}: not UTF-8 text (byte 0xe8)" in err and "Traceback" not in err
