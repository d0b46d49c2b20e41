"""`rnnkit export` on the runs saved in tests/fixtures/saved_runs: the ONNX file gives PyTorch's numbers
(within 1e-5), and the runner copied beside it, run with torch and rnnkit made unimportable, prints
what `rnnkit predict` and `rnnkit generate --temperature 0` print."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.cli import EXIT_BAD_INPUT, main
from rnnkit.tasks import TASKS

ort = pytest.importorskip("onnxruntime", reason="the export extra: pip install -e '.[export]'")
pytest.importorskip("onnxscript")

SAVED = Path(__file__).parent.parent / "fixtures" / "saved_runs"
# the runner, with PyTorch and rnnkit unimportable: it must need neither
ISOLATED = ("import runpy, sys; sys.modules['torch'] = None; sys.modules['rnnkit'] = None; "
            "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The saved classify and lm runs, exported (lm with its int8 copy too)."""
    root = tmp_path_factory.mktemp("export")
    shutil.copytree(SAVED, root / "saved")
    out = {}
    for task, extra in (("classify", []), ("lm", ["--quantize", "int8"])):
        run = root / "saved" / task / "run"
        out[task] = (run, root / task)
        assert main(["export", str(run), "--out", str(root / task), *extra]) == 0
    return out


def runner(folder: Path, *args) -> str:
    done = subprocess.run([sys.executable, "-c", ISOLATED, str(folder / "run.py"), *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_export_holds_the_model_its_vocabulary_and_the_runner(exported):
    run, out = exported["classify"]
    manifest = json.loads((out / "rnnkit-export.json").read_text())
    assert manifest["format"] == "rnnkit-onnx" and manifest["task"] == "classify"
    assert manifest["classes"] == TASKS["classify"].load_trained(str(run)).classes
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "rnnkit-export.json", "run.py"]


def test_classifier_probabilities_equal_pytorch_s(exported):
    run, out = exported["classify"]
    trained = TASKS["classify"].load_trained(str(run))
    texts = ["the film was great", "dull plot and a dull film", "", "loved it " * 30]
    ids, _, _ = trained.encode(texts)
    lengths = torch.tensor([len(s) for s in ids])
    batch = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, s in enumerate(ids):
        batch[row, :len(s)] = torch.tensor(s)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"ids": batch.numpy(), "lengths": lengths.numpy()})[0]
    np.testing.assert_allclose(got, trained.predict(texts).numpy(), atol=1e-5)


def test_the_runner_classifies_as_rnnkit_predict_does(exported, tmp_path, capsys):
    run, out = exported["classify"]
    texts = tmp_path / "texts.txt"
    texts.write_text("the film was great\ndull plot\na <br /> Movie, really!\n")
    ours = [json.loads(line) for line in runner(out, "classify", "--file", str(texts)).splitlines()]
    capsys.readouterr()
    assert main(["predict", str(run), str(texts), "--json"]) == 0
    theirs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in ours] == [r["label"] for r in theirs]
    for a, b in zip(ours, theirs):
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-5)


def test_language_model_logits_and_state_equal_pytorch_s_step_after_step(exported):
    run, out = exported["lm"]
    model, tokenizer, _ = TASKS["lm"].load_trained(str(run))
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    cfg = model.rnn.config
    h = c = np.zeros((cfg.num_layers, 2, cfg.hidden_size), np.float32)
    state = None
    for chunk in (tokenizer.encode("line 1: the qu"), tokenizer.encode("i"), tokenizer.encode("ck brown")):
        tokens = torch.tensor([chunk, chunk[::-1]])
        logits, h, c = session.run(None, {"tokens": tokens.numpy(), "h0": h, "c0": c})
        with torch.no_grad():
            expected, state = model(tokens, state)
        np.testing.assert_allclose(logits, expected.numpy(), atol=1e-5)
        np.testing.assert_allclose(c, state.c.numpy(), atol=1e-5)


@pytest.mark.parametrize("model", ["model.onnx", "model.int8.onnx"])
def test_the_runner_generates_what_rnnkit_generates_greedily(exported, capsys, model):
    run, out = exported["lm"]
    text = runner(out, "generate", "--prompt", "line", "--max-tokens", "30", "--temperature", "0", "--model", model)
    capsys.readouterr()
    assert main(["generate", str(run), "--prompt", "line", "--max-tokens", "30", "--temperature", "0"]) == 0
    expected = capsys.readouterr().out
    if model == "model.onnx":
        assert text == expected
    else:  # int8 weights: a text of the same length that may part from it
        assert len(text) == len(expected) and text.startswith("line")


def test_a_layer_onnx_cannot_compute_is_named_and_nothing_is_written(tmp_path, capsys):
    from tests.tiny import TASKS as TINY

    tiny = TINY["classify"](tmp_path / "data")
    assert main(["train", *tiny.train, "--out", str(tmp_path / "run"), "--set", "model.zoneout=0.1",
                 "--set", "train.max_steps=2"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "onnx")]) == EXIT_BAD_INPUT
    assert "rnn: model.zoneout=0.1 cannot be exported to ONNX" in capsys.readouterr().err
    assert not (tmp_path / "onnx").exists()


def test_a_task_not_exported_yet_is_named(exported, capsys):
    run = exported["classify"][0].parent.parent / "forecast" / "run"
    assert main(["export", str(run), "--out", str(run.parent / "onnx")]) == EXIT_BAD_INPUT
    assert "a 'forecast' run; rnnkit export writes classify, lm, tag, seq2seq runs so far" in capsys.readouterr().err


@pytest.fixture(scope="module")
def translator(exported):
    """The saved seq2seq run (bidirectional GRU, attention, input feeding), exported with its int8 copies."""
    run = exported["classify"][0].parent.parent / "seq2seq" / "run"
    out = run.parent / "onnx"
    assert main(["export", str(run), "--out", str(out), "--quantize", "int8"]) == 0
    return run, out


def test_encoder_and_decoder_step_equal_pytorch_s(translator):
    from rnnkit.export.tasks import _flatten, decoder_state_names

    run, out = translator
    model = TASKS["seq2seq"].load_trained(str(run)).model
    names = decoder_state_names(model)
    source, lengths = torch.tensor([[4, 5, 6, 7, 4], [6, 5, 0, 0, 0], [7, 7, 7, 1, 0]]), torch.tensor([5, 2, 4])
    encoder = ort.InferenceSession(str(out / "encoder.onnx"), providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(out / "decoder.onnx"), providers=["CPUExecutionProvider"])
    got = dict(zip(names, encoder.run(None, {"source": source.numpy(), "lengths": lengths.numpy()})))
    with torch.no_grad():
        state = model.encode(source, lengths)
        for name, expected in zip(names, _flatten(state, names)):
            np.testing.assert_allclose(got[name], expected.numpy(), atol=1e-5, err_msg=name)
        token = torch.tensor([2, 2, 2])
        for _ in range(3):  # steps with the state carried
            outputs = decoder.run(None, {"token": token.numpy(), **got})
            log_probs, state, weights = model.decode_step(token, state)
            np.testing.assert_allclose(outputs[0], log_probs.numpy(), atol=1e-5)
            np.testing.assert_allclose(outputs[-1], weights.numpy(), atol=1e-5)
            got.update(h=outputs[1], feed=outputs[2])
            token = log_probs.argmax(-1)


@pytest.mark.parametrize("how", [[], ["--greedy"], ["--n-best", "3"]], ids=["beam", "greedy", "n-best"])
def test_the_runner_translates_as_rnnkit_does(translator, how, capsys):
    run, out = translator
    sentences = ["ka lo", "mi pu ka", "pu pu mi lo", ""]
    printed = runner(out, "translate", *sentences, *how).splitlines()
    trained = TASKS["seq2seq"].load_trained(str(run))
    from rnnkit.tasks.decoding import detokenize

    found = trained.translate(sentences, greedy="--greedy" in how, n_best=3 if "--n-best" in how else 1)
    if "--n-best" not in how:
        assert printed == [detokenize(trained.target_vocab, h[0].tokens) for h in found]
        return
    for line, hypotheses in zip(printed, found):
        record = json.loads(line)["hypotheses"]
        assert [r["text"] for r in record] == [detokenize(trained.target_vocab, h.tokens) for h in hypotheses]
        assert [r["score"] for r in record] == pytest.approx([h.score for h in hypotheses], abs=1e-4)


def test_int8_translation_runs(translator):
    _, out = translator
    assert sorted(p.name for p in out.glob("*.onnx")) == ["decoder.int8.onnx", "decoder.onnx", "encoder.int8.onnx",
                                                         "encoder.onnx"]
    assert len(runner(out, "translate", "ka lo", "--model", "int8").splitlines()) == 1


def test_the_runner_s_copies_of_rnnkit_s_steps_agree_with_rnnkit():
    """run.py cannot import rnnkit, so it carries its own truncation, prompt encoding and piece decoding:
    held here to rnnkit's, for every truncation and every language-model tokenizer."""
    import importlib.util

    from rnnkit.data.batches import truncate
    from rnnkit.data.tokenizer import fit_tokenizer
    from rnnkit.tasks.language_modeling import prompt_ids

    spec = importlib.util.spec_from_file_location("run", Path(__file__).parents[2] / "src/rnnkit/export/runner.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    for how in ("head", "tail", "head_tail"):
        for n in range(0, 12):
            assert run.truncate(list(range(n)), 5, how) == truncate(list(range(n)), 5, how)
    text = "def f(x):\n    return x + 1\n\nclass Émile:\n    pass\n" * 20
    for kind in ("char", "word", "bpe"):
        tokenizer = fit_tokenizer(kind, text, vocab_size=300 if kind == "bpe" else 0)
        ours = run.LanguageTokenizer(tokenizer.to_json())
        for prompt in ("", "def ", "class Émile:\n", "zebra ∑", "\n"):
            assert ours.encode_prompt(prompt) == prompt_ids(tokenizer, prompt)[0], (kind, prompt)
        ids = tokenizer.encode(text[:200])
        assert list(ours.pieces(ids)) == list(tokenizer.stream_decode(ids)), kind
    import random

    from rnnkit.data import schemes
    from rnnkit.data.tagging import CASES, casing

    rng = random.Random(0)
    for _ in range(300):
        tags = [rng.choice(["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "S-LOC"]) for _ in range(7)]
        assert run.spans(tags) == schemes.spans(tags), tags
        for scheme in schemes.SCHEMES:
            assert run.write(schemes.spans(tags), 7, scheme) == schemes.write(schemes.spans(tags), 7, scheme)
    for token in ["Paris", "paris", "PARIS", "1996", "1996-08", "a1", "x-1b", "--", "Émile", "", "3x"]:
        assert CASES.index(run.casing(token)) == casing(token), token


@pytest.fixture(scope="module")
def taggers(tmp_path_factory):
    """A tiny tagger trained until it finds the entities (CRF, character LSTM), and one with a softmax
    output and a character CNN, each exported."""
    from tests.tiny import TASKS as TINY

    root = tmp_path_factory.mktemp("tag")
    made = {}
    for name, sets in (("crf", ["train.max_steps=120", "train.eval_every=120"]),
                       ("softmax-cnn", ["model.output=softmax", "model.char_encoder=cnn", "train.max_steps=20"])):
        tiny = TINY["tag"](root / name)
        run = root / name / "run"
        assert main(["train", *tiny.train, "--out", str(run), *[a for s in sets for a in ("--set", s)]]) == 0
        assert main(["export", str(run), "--out", str(root / name / "onnx")]) == 0
        made[name] = (run, root / name / "onnx")
    return made


@pytest.mark.parametrize("name", ["crf", "softmax-cnn"])
def test_the_runner_tags_as_rnnkit_does(taggers, name):
    run, out = taggers[name]
    trained = TASKS["tag"].load_trained(str(run))
    sentences = ["Peter met Mary in Paris", "the Berlin and Paris met Peter", "", "Mary"]
    printed = [json.loads(line) for line in runner(out, "tag", *sentences).splitlines()]
    tokenized = [TASKS["tag"].tokenize(s)[0] for s in sentences]
    expected = trained.tag([t for t in tokenized if t])
    assert [r["tags"] for r in printed if r["tokens"]] == expected
    if name == "crf":
        assert any(r["spans"] for r in printed)  # the tagger found entities: the comparison is not vacuous
    for result, text in zip(printed, sentences):
        for span in result["spans"]:
            assert text[span["start"]:span["end"]] == span["text"]


def test_tagger_emissions_equal_pytorch_s(taggers):
    from rnnkit.data.tagging import collate

    run, out = taggers["crf"]
    trained = TASKS["tag"].load_trained(str(run))
    sentences = [["Peter", "met", "Mary", "in", "Paris"], ["Berlin"], ["the", "Zürich", "2024", "x"]]
    items = [dict(zip(("words", "chars", "cases"), trained.vocabulary.encode(s)[:3])) for s in sentences]
    batch = collate(items)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: batch[k].numpy() for k in ("words", "chars", "char_lengths", "cases", "lengths")})[0]
    with torch.no_grad():
        expected = trained.model.emissions(batch)
    valid = (torch.arange(batch["words"].shape[1])[None] < batch["lengths"][:, None]).numpy()
    np.testing.assert_allclose(got[valid], expected.numpy()[valid], atol=1e-5)


def test_an_out_folder_that_is_not_an_export_is_left_alone(exported, tmp_path, capsys):
    run, _ = exported["classify"]
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    assert main(["export", str(run), "--out", str(precious)]) == EXIT_BAD_INPUT
    assert "exists and is not an earlier export" in capsys.readouterr().err
    assert (precious / "thesis.txt").read_text() == "years of work"
    assert main(["export", str(run), "--out", str(tmp_path / "again")]) == 0  # a new folder, then
    assert main(["export", str(run), "--out", str(tmp_path / "again")]) == 0  # an earlier export: replaced
