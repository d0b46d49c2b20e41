"""A trained run as a directory that runs without PyTorch or rnnkit:

    model.onnx        the network, its recurrent state as explicit inputs and outputs where the task
                      carries one, batch and time axes free
    rnnkit-export.json what a runner needs beside it: the task, the inputs and outputs, the vocabulary
                      (the run's own JSON), labels, limits
    run.py            a runner on onnxruntime, numpy and tokenizers alone (export/runner.py)

Exported so far: classify (ids, lengths -> probabilities), lm (tokens, h0, c0 -> logits, h, c: feed a
prompt at once, then one token at a time) and tag (words, characters, casing, lengths -> emissions;
the CRF's transitions in the manifest, decoded by the runner) and seq2seq (encoder.onnx: source ->
the decoder's first state; decoder.onnx: one step, token and state -> log-probabilities, new state,
attention; greedy and beam search in the runner). Forecasting is named in the error.
"""

import os
import shutil
from typing import Callable, Dict

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..layers.exportable import export_problem
from ..tasks import TASKS
from ..tasks.runs import run_task
from ..training.checkpoint import write_json_atomic
from .onnx import save_onnx

FORMAT, VERSION = "rnnkit-onnx", 1


class ClassifierGraph(nn.Module):
    """ids (B, T), lengths (B,) -> class probabilities (B, C)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids, lengths):
        return self.model(ids, lengths).softmax(-1)


class LanguageModelGraph(nn.Module):
    """tokens (B, T), h0, c0 (L, B, H) -> logits (B, T, V), h, c (c passes through but for an LSTM)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.lstm = model.rnn.config.cell == "lstm"

    def forward(self, tokens, h0, c0):
        logits, state = self.model(tokens, (h0, c0) if self.lstm else h0)
        return (logits, state.h, state.c) if self.lstm else (logits, state, c0 + 0)


def _classify(path: str, which: str, out: str) -> dict:
    trained = TASKS["classify"].load_trained(path, which)
    check(trained.model)
    d = trained.config.data
    ids, lengths = torch.tensor([[2, 3, 4, 5, 6], [2, 3, 4, 1, 1]]), torch.tensor([5, 3])
    save_onnx(ClassifierGraph(trained.model), (ids, lengths), os.path.join(out, "model.onnx"), ["ids", "lengths"],
              ["probabilities"], {"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}})
    return {"checkpoint": trained.checkpoint, "encoder": trained.encoder.to_json(), "classes": trained.classes,
            "max_length": d.max_length, "truncation": d.truncation,
            "inputs": {"ids": ["batch", "time"], "lengths": ["batch"]}, "outputs": {"probabilities": ["batch", "class"]}}


def _lm(path: str, which: str, out: str) -> dict:
    model, tokenizer, meta = TASKS["lm"].load_trained(path, which)
    check(model)
    cfg = model.rnn.config
    layers = cfg.num_layers * cfg.num_directions
    # two tensors, not one twice: torch.export would read h0 and c0 as one input
    h0, c0 = torch.zeros(layers, 2, cfg.hidden_size), torch.zeros(layers, 2, cfg.hidden_size)
    save_onnx(LanguageModelGraph(model), (torch.tensor([[1, 2, 3], [3, 2, 1]]), h0, c0),
              os.path.join(out, "model.onnx"), ["tokens", "h0", "c0"], ["logits", "h", "c"],
              {"tokens": {0: "batch", 1: "time"}, "h0": {1: "batch"}, "c0": {1: "batch"}})
    return {"checkpoint": meta["checkpoint"], "tokenizer": tokenizer.to_json(),
            "state": {"layers": layers, "hidden_size": cfg.hidden_size, "cell": cfg.cell},
            "inputs": {"tokens": ["batch", "time"], "h0": ["layers", "batch", "hidden"], "c0": ["layers", "batch", "hidden"]},
            "outputs": {"logits": ["batch", "time", "vocabulary"], "h": ["layers", "batch", "hidden"],
                        "c": ["layers", "batch", "hidden"]}}


class TaggerGraph(nn.Module):
    """words, chars, char_lengths, cases (B, T[, L]), lengths (B,) -> emissions (B, T, C): the tag scores
    before the CRF (whose transitions the manifest holds) or the softmax."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, words, chars, char_lengths, cases, lengths):
        batch = {"words": words, "chars": chars, "char_lengths": char_lengths, "cases": cases, "lengths": lengths}
        return self.model.emissions(batch)


def _tag(path: str, which: str, out: str) -> dict:
    from ..data.tagging import CASES, casing, collate

    trained = TASKS["tag"].load_trained(path, which)
    check(trained.model)
    v = trained.vocabulary
    items = [{"words": [2, 3, 4], "chars": [[2, 3], [4], [5, 6, 7]], "cases": [3, 4, 5]},
             {"words": [5, 6], "chars": [[2], [3, 4]], "cases": [casing("A"), 3]}]
    batch = collate(items)
    names = ["words", "chars", "char_lengths", "cases", "lengths"]
    save_onnx(TaggerGraph(trained.model), tuple(batch[n] for n in names), os.path.join(out, "model.onnx"), names,
              ["emissions"], {"words": {0: "batch", 1: "time"}, "chars": {0: "batch", 1: "time", 2: "characters"},
                              "char_lengths": {0: "batch", 1: "time"}, "cases": {0: "batch", 1: "time"},
                              "lengths": {0: "batch"}})
    crf = trained.model.crf
    decoder = {"kind": "softmax"}
    if crf is not None:
        transitions, start, end = (t.detach().tolist() for t in crf._scores(torch.float32))
        decoder = {"kind": "crf", "transitions": transitions, "start": start, "end": end}
    return {"checkpoint": trained.checkpoint, "vocabulary": v.to_json(), "cases": list(CASES),
            "scheme": trained.scheme, "train_scheme": trained.config.data.train_scheme, "decoder": decoder,
            "inputs": {"words": ["batch", "time"], "chars": ["batch", "time", "characters"],
                       "char_lengths": ["batch", "time"], "cases": ["batch", "time"], "lengths": ["batch"]},
            "outputs": {"emissions": ["batch", "time", "tag"]}}


def decoder_state_names(model) -> list:
    """The tensors of a Seq2Seq's DecoderState, by name: h [, c] [, feed] [, keys, values], mask."""
    names = ["h", "c"] if model.decoder.config.cell == "lstm" else ["h"]
    names += ["feed"] * model.feeds + ["keys", "values"] * (model.attention is not None)
    return names + ["mask"]


def _flatten(state, names) -> tuple:
    from ..cells.state import as_parts

    parts = dict(zip(("h", "c"), as_parts(state.rnn)))
    parts.update(feed=state.feed, keys=state.keys, values=state.values, mask=state.mask)
    return tuple(parts[name] for name in names)


def _unflatten(tensors, names):
    from ..cells.state import from_parts
    from ..models.seq2seq import DecoderState

    parts = dict(zip(names, tensors))
    rnn = from_parts(tuple(parts[n] for n in ("h", "c") if n in parts))
    return DecoderState(rnn, parts.get("feed"), parts.get("keys"), parts.get("values"), parts["mask"])


class EncoderGraph(nn.Module):
    """source (B, S), lengths (B,) -> the decoder's first state, tensor by tensor (decoder_state_names)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.names = model, decoder_state_names(model)

    def forward(self, source, lengths):
        return _flatten(self.model.encode(source, lengths), self.names)


class DecoderGraph(nn.Module):
    """token (B,), the state tensors -> log-probabilities (B, V), the new h [, c] [, feed] [, attention
    weights (B, S)]: one step of the decoder; the memory (keys, values, mask) does not change."""

    def __init__(self, model):
        super().__init__()
        self.model, self.names = model, decoder_state_names(model)

    def forward(self, token, tensors):
        log_probs, state, weights = self.model.decode_step(token, _unflatten(tensors, self.names))
        changing = [t for name, t in zip(self.names, _flatten(state, self.names)) if name in ("h", "c", "feed")]
        return (log_probs, *changing, *([weights] if weights is not None else []))


def _seq2seq(path: str, which: str, out: str) -> dict:
    trained = TASKS["seq2seq"].load_trained(path, which)
    check(trained.model)
    model = trained.model.eval()
    names = decoder_state_names(model)
    source, lengths = torch.tensor([[4, 5, 6, 7], [5, 6, 1, 0]]), torch.tensor([4, 3])
    save_onnx(EncoderGraph(model), (source, lengths), os.path.join(out, "encoder.onnx"), ["source", "lengths"],
              names, {"source": {0: "batch", 1: "source"}, "lengths": {0: "batch"}})
    with torch.no_grad():
        state = tuple(t.clone() for t in _flatten(model.encode(source, lengths), names))  # each its own memory
    axes = {"h": {1: "batch"}, "c": {1: "batch"}, "feed": {0: "batch"}, "keys": {0: "batch", 1: "source"},
            "values": {0: "batch", 1: "source"}, "mask": {0: "batch", 1: "source"}}
    changing = [n for n in names if n in ("h", "c", "feed")]
    outputs = ["log_probs", *[f"new_{n}" for n in changing]] + ["weights"] * (model.attention is not None)
    save_onnx(DecoderGraph(model), (torch.tensor([2, 2]), state), os.path.join(out, "decoder.onnx"),
              ["token", *names], outputs, {"token": {0: "batch"}, **{n: axes[n] for n in names}})
    decode = trained.config.decode
    return {"checkpoint": trained.checkpoint, "files": {"encoder": "encoder.onnx", "decoder": "decoder.onnx"},
            "source_vocabulary": trained.source_vocab.to_json(), "target_vocabulary": trained.target_vocab.to_json(),
            "decode": {"beam_size": decode.beam_size, "length_penalty": decode.length_penalty,
                       "max_length_a": decode.max_length_a, "max_length_b": decode.max_length_b},
            "state": names, "changing": changing, "attention": model.attention is not None,
            "inputs": {"encoder": ["source", "lengths"], "decoder": ["token", *names]},
            "outputs": {"encoder": names, "decoder": outputs}}


EXPORTERS: Dict[str, Callable[[str, str, str], dict]] = {"classify": _classify, "lm": _lm, "tag": _tag,
                                                         "seq2seq": _seq2seq}


def export_run(path: str, out: str, which: str = "best", quantize: str = "") -> dict:
    """Export the run at ``path`` into the folder ``out`` (made, or emptied of an earlier export);
    returns the manifest written there."""
    task = run_task(path)
    if task not in EXPORTERS:
        raise CheckpointError(f"{path}: a {task!r} run; rnnkit export writes {', '.join(EXPORTERS)} runs so far "
                              "(forecast is still to come)")
    if quantize and quantize != "int8":
        raise ConfigError(f"--quantize {quantize!r}: expected int8")
    if os.path.exists(out) and not (os.path.isdir(out) and (not os.listdir(out) or os.path.isfile(
            os.path.join(out, "rnnkit-export.json")))):  # replace an earlier export, never anything else
        raise ConfigError(f"--out {out}: exists and is not an earlier export (no rnnkit-export.json); choose "
                          "another folder")
    tmp = os.path.normpath(out) + ".tmp-export"  # written whole, then renamed: never half an export
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        manifest = {"format": FORMAT, "version": VERSION, "task": task, **EXPORTERS[task](path, which, tmp)}
        if quantize:
            manifest["quantized"] = [_quantize(tmp, name) for name in sorted(os.listdir(tmp)) if name.endswith(".onnx")]
        shutil.copyfile(os.path.join(os.path.dirname(__file__), "runner.py"), os.path.join(tmp, "run.py"))
        write_json_atomic(os.path.join(tmp, "rnnkit-export.json"), manifest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.replace(tmp, out)
    return manifest


def _quantize(out: str, name: str) -> str:
    """onnxruntime's dynamic int8 quantization of ``name`` (weights int8, activations quantized on the
    fly), beside it as NAME.int8.onnx."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the model applies to static quantization
    try:
        target = name.removesuffix(".onnx") + ".int8.onnx"
        quantize_dynamic(os.path.join(out, name), os.path.join(out, target), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    return target


def check(model: nn.Module) -> None:
    """A ConfigError naming the first recurrent layer of ``model`` that cannot be exported, and why."""
    from ..layers.recurrent import Recurrent

    for name, module in model.named_modules():
        problem = isinstance(module, Recurrent) and export_problem(module.config, "model." if name == "rnn" else None)
        if problem:
            raise ConfigError(f"{name}: {problem}")
