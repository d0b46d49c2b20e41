"""`rnnkit train seq2seq | evaluate | translate` (resume: tests/test_tasks.py) end to end, in process, on a made-up language
whose translation is a word-for-word dictionary read backwards: what a user types, what they get back,
and the errors they see for bad input."""

import io
import json
import os
import random
import re

import pytest

from rnnkit.cli import EXIT_BAD_INPUT, main
from rnnkit.tasks import decoding, seq2seq
from rnnkit.training.bleu import corpus_scores
from rnnkit.training.logs import read_metrics


WORDS = "ka lo mi pu re sa ti vo".split()
DICTIONARY = dict(zip(WORDS, "zebu wolk fin dra hoo sun tak mar".split()))
TINY = ["--set", "train.threads=1", "--set", "train.plot=false", "--set", "train.tensorboard=false",
        "--set", "model.hidden_size=16", "--set", "model.embedding_size=16", "--set", "model.dropout=0.0",
        "--set", "data.batch_size=16", "--set", "data.tokenizer=word", "--set", "data.joint_vocab=false",
        "--set", "train.lr=0.02"]


def pairs(n, seed=0):
    """(source, target): 2 to 5 made-up words; the target translates them word for word, backwards."""
    rng = random.Random(seed)
    result = []
    for _ in range(n):
        words = rng.choices(WORDS, k=rng.randint(2, 5))
        result.append((" ".join(words), " ".join(DICTIONARY[w] for w in reversed(words)) + "."))
    return result


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def write_pairs(directory, name, rows):
    return (write_lines(directory / f"{name}.src", [s for s, _ in rows]),
            write_lines(directory / f"{name}.tgt", [t for _, t in rows]))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    return write_pairs(directory, "train", pairs(400)) + write_pairs(directory, "valid", pairs(40, seed=1))


@pytest.fixture(scope="module")
def run(files, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "run")
    assert main(["train", "seq2seq", "--source", files[0], "--target", files[1], "--valid-source", files[2],
                 "--valid-target", files[3], "--out", out, "--quiet", *TINY, "--set", "train.max_steps=100",
                 "--set", "train.eval_every=50", "--set", "train.monitor=bleu"]) == 0
    return out


def test_train_from_two_files_learns_and_writes_its_report(run, files):
    for name in ("config.yaml", "metrics.jsonl", "report.json", "valid.hyp.txt", "checkpoints/best.json"):
        assert os.path.exists(os.path.join(run, name)), name
    report = json.load(open(os.path.join(run, "report.json")))
    assert report["sentences"] == 40 and report["decoding"] == "beam 5, length penalty 0.6"
    assert report["bleu"] > 20 and report["perplexity"] < 4  # chance would be about 1 and 13
    assert report["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    # the BLEU of the report is sacrebleu's on the written translations against the references
    hypotheses = open(os.path.join(run, "valid.hyp.txt"), encoding="utf-8").read().split("\n")[:-1]
    references = open(files[3], encoding="utf-8").read().split("\n")[:-1]
    assert len(hypotheses) == 40 and 0 < report["bleu"] < 100
    assert corpus_scores(hypotheses, references)["bleu"] == pytest.approx(report["bleu"])
    records = read_metrics(os.path.join(run, "metrics.jsonl"))
    valid = [r for r in records if r["kind"] == "valid"]
    assert [r["step"] for r in valid] == [50, 100] and valid[-1]["perplexity"] < valid[0]["perplexity"]
    assert [r for r in records if r["kind"] == "final"][0]["bleu"] == report["bleu"]


def test_train_from_tsv_holds_out_5_percent_reports_filters_and_ties_embeddings(tmp_path, capsys):
    rows = [f"{s}\t{t}" for s, t in pairs(400)]
    rows[7] = "ka lo mi pu re sa ti vo ka lo mi\tzebu."  # source too long
    rows[8] = "ka\tzebu wolk fin dra hoo sun."  # length ratio 6
    rows[9] = "ka lo\t"  # empty target
    tsv = write_lines(tmp_path / "pairs.tsv", rows)
    out = str(tmp_path / "run")
    assert main(["train", "seq2seq", "--data", tsv, "--out", out, *TINY, "--set", "train.max_steps=3",
                 "--set", "data.max_source_tokens=8", "--set", "data.length_ratio=3", "--set", "data.skip_empty=true",
                 "--set", "data.tokenizer=bpe", "--set", "data.vocab_size=300", "--set", "data.joint_vocab=true",
                 "--set", "model.share_embeddings=true", "--set", "model.tie_embeddings=true"]) == 0
    err = capsys.readouterr().err
    assert (f"rnnkit: note: {tsv}: 3 of 400 sentence pairs left out (source too long x1, length ratio x1, "
            "empty x1)") in err
    assert "no validation files: 20 of the 397 training pairs held out" in err  # round(0.05 * 397)
    assert json.load(open(os.path.join(out, "report.json")))["sentences"] == 20
    trained = seq2seq.load_trained(out)
    assert trained.source_vocab is trained.target_vocab and trained.source_vocab.kind == "bpe"
    assert trained.model.generator.weight is trained.model.source_embedding.weight  # one table, three uses


def test_evaluate_prints_bleu_and_json(run, files, tmp_path, capsys):
    capsys.readouterr()
    assert main(["evaluate", run, "--source", files[2], "--target", files[3]]) == 0
    out = capsys.readouterr().out
    assert "BLEU" in out and "chrF" in out and "perplexity" in out and "signature: nrefs:1" in out
    assert main(["evaluate", run, "--source", files[2], "--target", files[3], "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    report = json.load(open(os.path.join(run, "report.json")))
    for key in ("bleu", "chrf", "perplexity", "sentences"):  # the same data, weights and decoding
        assert metrics[key] == pytest.approx(report[key]), key
    tsv = write_lines(tmp_path / "valid.tsv", [f"{s}\t{t}" for s, t in pairs(40, seed=1)])
    assert main(["evaluate", run, "--data", tsv, "--json", "--greedy"]) == 0
    greedy = json.loads(capsys.readouterr().out)
    assert greedy["decoding"] == "greedy" and greedy["perplexity"] == pytest.approx(report["perplexity"])


def test_translate_file_and_stdin_in_input_order_with_empty_lines(run, files, tmp_path, capsys, monkeypatch):
    trained = seq2seq.load_trained(run)
    texts = ["ka lo mi pu re", "", "vo", "ti sa ka ka"]
    alone = ["" if not t else decoding.detokenize(trained.target_vocab, trained.translate([t])[0][0].tokens)
             for t in texts]  # one at a time: no batching, no sorting
    assert all(alone[i] for i in (0, 2, 3))
    source = write_lines(tmp_path / "in.txt", texts)
    capsys.readouterr()
    assert main(["translate", run, source, "--batch-size", "2"]) == 0
    assert capsys.readouterr().out.split("\n")[:-1] == alone
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n"))
    assert main(["translate", run, "-", "--verbose"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split("\n")[:-1] == alone and "4 sentences in" in captured.err


def test_n_best_lists_and_attention_plots(run, tmp_path, capsys):
    source = write_lines(tmp_path / "in.txt", ["ka lo mi", "", "pu re"])
    plots = tmp_path / "plots"
    assert main(["translate", run, source, "--n-best", "3", "--attention-plot", str(plots)]) == 0
    lines = capsys.readouterr().out.split("\n")[:-1]
    assert len(lines) == 3 + 1 + 3  # the empty line: one empty hypothesis
    parsed = [re.fullmatch(r"(\d+) \|\|\| (.*) \|\|\| (-?\d+\.\d{4})", line) for line in lines]
    assert all(parsed), lines
    assert [int(m[1]) for m in parsed] == [0, 0, 0, 1, 2, 2, 2] and parsed[3][2] == ""
    for sentence in (0, 2):
        scores = [float(m[3]) for m in parsed if int(m[1]) == sentence]
        assert scores == sorted(scores, reverse=True) and len({m[2] for m in parsed if int(m[1]) == sentence}) == 3
    assert sorted(os.listdir(plots)) == ["00001.png", "00003.png"]
    assert (plots / "00001.png").read_bytes()[:4] == b"\x89PNG"


def test_greedy_equals_a_beam_of_one_without_length_penalty(run, files, capsys):
    capsys.readouterr()
    assert main(["translate", run, files[2], "--greedy"]) == 0
    greedy = capsys.readouterr().out
    assert main(["translate", run, files[2], "--beam-size", "1", "--length-penalty", "0"]) == 0
    assert capsys.readouterr().out == greedy and len(greedy.split("\n")) == 41


def test_bad_input_is_one_clear_error(run, files, tmp_path, capsys):
    out = str(tmp_path / "other")
    train = ["train", "seq2seq", "--out", out, *TINY, "--set", "train.max_steps=1"]
    short = write_lines(tmp_path / "short.tgt", [t for _, t in pairs(399)])
    assert main(train + ["--source", files[0], "--target", short]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and f"{files[0]} has 400 lines but {short} has 399" in err
    assert f"line 400 of {files[0]} has no translation" in err
    rows = pairs(50)
    empty = write_lines(tmp_path / "empty.src", [s if i != 6 else "" for i, (s, _) in enumerate(rows)])
    target = write_lines(tmp_path / "empty.tgt", [t for _, t in rows])
    assert main(train + ["--source", empty, "--target", target]) == EXIT_BAD_INPUT
    assert f"rnnkit: error: {empty}:7: the source sentence is empty" in capsys.readouterr().err
    no_tab = write_lines(tmp_path / "pairs.tsv", ["ka\tzebu.", "lo wolk."])
    assert main(train + ["--data", no_tab]) == EXIT_BAD_INPUT
    assert f"rnnkit: error: {no_tab}:2: no tab" in capsys.readouterr().err
    missing = str(tmp_path / "missing.de")
    assert main(train + ["--source", missing, "--target", target]) == EXIT_BAD_INPUT
    assert f"rnnkit: error: {missing}: no such file" in capsys.readouterr().err
    assert main(train + ["--source", files[0]]) == EXIT_BAD_INPUT
    assert "data.train_source=" in capsys.readouterr().err
    assert main(["train", "lm", "--source", files[0], "--out", out, "--set", "train.max_steps=1"]) == EXIT_BAD_INPUT
    assert "--source is for `rnnkit train seq2seq`" in capsys.readouterr().err
    # evaluate and translate
    assert main(["evaluate", run, "--source", files[2], "--target", files[1]]) == EXIT_BAD_INPUT
    assert f"{files[2]} has 40 lines but {files[1]} has 400" in capsys.readouterr().err
    assert main(["evaluate", run, "--source", files[2]]) == EXIT_BAD_INPUT
    assert "--source FILE --target FILE" in capsys.readouterr().err
    assert main(["translate", run, missing]) == EXIT_BAD_INPUT
    assert f"rnnkit: error: {missing}: no such file" in capsys.readouterr().err
    assert main(["translate", run, files[2], "--greedy", "--n-best", "2"]) == EXIT_BAD_INPUT
    assert "--n-best needs beam search" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:  # argparse: the command line itself (exit code 2)
        main(["translate", run, files[2], "--beam-size", "0"])
    assert stopped.value.code == 2 and "argument --beam-size: expected an integer >= 1, got 0" in capsys.readouterr().err
    other = tmp_path / "classifier"
    other.mkdir()
    (other / "config.yaml").write_text("task: classify\n", encoding="utf-8")
    assert main(["evaluate", str(other), "--source", files[2], "--target", files[3]]) == EXIT_BAD_INPUT
    assert "--source and --target: for sequence-to-sequence runs" in capsys.readouterr().err
    assert main(["translate", str(other)]) == EXIT_BAD_INPUT
    assert "`rnnkit translate` is for sequence-to-sequence runs (rnnkit train seq2seq); for a 'classify' run, " \
           "`rnnkit predict`" in capsys.readouterr().err
