"""`rnnkit train lm | resume | evaluate | generate` end to end, in process, on tiny data: what a user
types, what they get back, and the errors they see for bad input."""

import json
import math
import os

import pytest
import torch

from rnnkit.cli import EXIT_BAD_INPUT, EXIT_DIVERGED, main
from rnnkit.tasks.language_modeling import load_trained

TINY = ["--set", "train.max_steps=6", "--set", "train.eval_every=3", "--set", "train.threads=1",
        "--set", "train.plot=false", "--set", "train.tensorboard=false", "--set", "model.hidden_size=16",
        "--set", "model.num_layers=1", "--set", "data.batch_size=4", "--set", "data.bptt=16",
        "--set", "data.eval_batch_size=2", "--set", "data.eval_bptt=32"]

TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}\n" for i in range(200))


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


def train(corpus, out, *extra):
    return main(["train", "lm", "--data", corpus, "--out", out, "--quiet", *TINY, *extra])


def test_train_writes_a_complete_run_directory(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out, "--set", "train.plot=true", "--set", "train.tensorboard=true") == 0
    assert "best valid loss" in capsys.readouterr().out
    for name in ("config.yaml", "metrics.jsonl", "loss.png", "checkpoints/last.json", "checkpoints/best.json"):
        assert os.path.exists(os.path.join(out, name)), name
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(out, "tensorboard")))
    with open(os.path.join(out, "loss.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    checkpoint = os.path.join(out, "checkpoints", "step-00000006")
    assert sorted(os.listdir(checkpoint)) == ["checkpoint.json", "model.safetensors", "train.safetensors"]
    records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in records if r["kind"] == "valid"] == [3, 6]


def test_generate_streams_the_prompt_then_a_reproducible_sample(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out) == 0
    capsys.readouterr()
    args = ["generate", out, "--prompt", "line 1", "--max-tokens", "40", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("line 1") and len(first) == len("line 1") + 40 + 1  # 40 characters and a newline
    assert main(args[:-1] + ["4"]) == 0
    assert capsys.readouterr().out != first  # another seed, another sample (40 chars from a 30-symbol softmax)


def test_generate_reports_prompt_symbols_outside_the_vocabulary(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out) == 0
    capsys.readouterr()
    assert main(["generate", out, "--prompt", "Zé☃ the", "--max-tokens", "5"]) == 0
    captured = capsys.readouterr()
    assert "3 prompt symbols" in captured.err and "'☃'" in captured.err


def test_generate_greedy_matches_the_model_run_by_hand(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out) == 0
    capsys.readouterr()
    assert main(["generate", out, "--prompt", "line", "--max-tokens", "10", "--temperature", "0"]) == 0
    text = capsys.readouterr().out[:-1]
    model, tokenizer, _ = load_trained(out)
    ids = tokenizer.encode("line")
    for _ in range(10):  # recompute everything from scratch for every token
        logits, _ = model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    assert text == tokenizer.decode(ids)


def test_evaluate_reports_loss_perplexity_and_bits(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out) == 0
    capsys.readouterr()
    assert main(["evaluate", out, "--data", corpus, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert math.isclose(metrics["perplexity"], math.exp(metrics["loss"]), rel_tol=1e-9)
    assert math.isclose(metrics["bits_per_char"], metrics["loss"] / math.log(2), rel_tol=1e-9)  # char level
    assert metrics["tokens"] > 0.9 * len(TEXT)


@pytest.mark.parametrize("tokenizer", ["word", "bpe"])
def test_word_and_bpe_levels_train_evaluate_and_generate(tokenizer, corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    extra = ["--set", f"data.tokenizer={tokenizer}", "--set", "data.vocab_size=300"]
    assert train(corpus, out, *extra) == 0
    capsys.readouterr()
    assert main(["evaluate", out, "--data", corpus, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert math.isfinite(metrics["loss"]) and metrics["tokens"] < len(TEXT) / 2  # fewer tokens than characters
    assert main(["generate", out, "--prompt", "the quick", "--max-tokens", "8"]) == 0
    assert capsys.readouterr().out.startswith("the quick")
    model, tokenizer_, _ = load_trained(out)
    assert tokenizer_.kind == tokenizer and model.vocab_size == len(tokenizer_)


def test_word_level_prompt_with_unknown_words_reads_them_as_unk(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out, "--set", "data.tokenizer=word") == 0
    capsys.readouterr()
    assert main(["generate", out, "--prompt", "the zebra", "--max-tokens", "3"]) == 0
    assert "'zebra' x1" in capsys.readouterr().err


def test_resume_continues_a_run_that_was_stopped_before_its_end(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out) == 0
    # the same run, told to go further: resume picks up from its last checkpoint
    config = open(os.path.join(out, "config.yaml")).read()
    assert "max_steps: 6" in config
    assert main(["resume", out, "--quiet"]) == 0
    assert "6 steps" in capsys.readouterr().out


def test_divergence_exits_with_its_own_code_and_keeps_a_good_checkpoint(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    code = train(corpus, out, "--set", "train.optimizer=sgd", "--set", "train.lr=1e12", "--set", "train.clip_norm=0",
                 "--set", "train.max_steps=50", "--set", "train.eval_every=1")
    assert code == EXIT_DIVERGED
    err = capsys.readouterr().err
    assert "training stopped" in err and "last good checkpoint" in err
    model, _, meta = load_trained(out, "last")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert meta["step"] >= 1


@pytest.mark.parametrize("content, problem", [
    (None, "no such file"), (b"", "empty"), (b"abc\0def", "binary"), (b"caf\xe9\n", "not UTF-8"),
])
def test_bad_training_files_name_the_file_and_the_problem(content, problem, tmp_path, capsys):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content)
    out = str(tmp_path / "run")
    assert train(str(path), out) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(path) in err and problem in err
    assert not os.path.exists(out)  # nothing half-made left behind


def test_config_errors_name_the_key_and_list_valid_ones(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out, "--set", "train.lrr=1") == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "train.lrr" in err and "weight_decay" in err
    assert train(corpus, out, "--set", "model.hidden_size=big") == EXIT_BAD_INPUT
    assert "model.hidden_size" in capsys.readouterr().err
    config = tmp_path / "bad.yaml"
    config.write_text("model: [1, 2\n")
    assert main(["train", "lm", "--data", corpus, "--out", out, "--config", str(config)]) == EXIT_BAD_INPUT
    assert str(config) in capsys.readouterr().err


def test_yaml_config_and_set_overrides_resolve_in_order(corpus, tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text("model:\n  cell: gru\n  hidden_size: 12\ntrain:\n  lr: 0.5\n")
    out = str(tmp_path / "run")
    assert train(corpus, out, "--config", str(config), "--set", "train.lr=0.003") == 0
    model, _, meta = load_trained(out)
    assert meta["config"]["model"]["cell"] == "gru" and meta["config"]["train"]["lr"] == 0.003
    assert model.config.hidden_size == 16  # TINY's --set comes after the file


def test_an_existing_run_directory_is_not_overwritten_without_force(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train(corpus, out) == 0
    capsys.readouterr()
    assert train(corpus, out) == EXIT_BAD_INPUT
    assert "rnnkit resume" in capsys.readouterr().err
    assert train(corpus, out, "--force") == 0


def test_loading_something_that_is_not_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["generate", str(tmp_path), "--prompt", "x"]) == EXIT_BAD_INPUT
    assert "not a run directory (no config.yaml) nor a checkpoint directory" in capsys.readouterr().err


@pytest.mark.parametrize("verb, options", [
    (["train", "lm"], ["--data", "--valid", "--config", "--set", "--out", "--force", "--quiet"]),
    (["resume"], ["RUN_DIR", "--quiet"]),
    (["evaluate"], ["--data", "--checkpoint", "--batch-size", "--bptt", "--json"]),
    (["generate"], ["--prompt", "--max-tokens", "--temperature", "--top-k", "--top-p", "--seed"]),
])
def test_every_verb_explains_its_options(verb, options, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(verb + ["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in options:
        assert option in text
