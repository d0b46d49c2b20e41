"""An exported model against the PyTorch model it came from, side by side in one process: PyTorch,
onnxruntime fp32 and onnxruntime int8 (dynamic quantization).

    rnnkit export RUN_DIR --out EXPORT_DIR --quantize int8
    python bench/export_speed.py RUN_DIR EXPORT_DIR [--texts 2000] [--batch-size 64] [--repeats 3]

A classifier: accuracy and texts/s on the run's own validation split, all three reading the same
texts in the same batches (sorted by length, as `rnnkit predict` sorts them). A language model:
greedy generation of --tokens tokens after a prompt, one token per step with the state carried
(tokens/s), how much of each text equals PyTorch's, and the loss on the validation text. A
translation model: beam search and greedy decoding of the first --texts validation sentences
(sentences/s, BLEU). Each timing is the best of --repeats, and the three alternate within each repeat.
"""

import argparse
import sys
import time

import torch

from rnnkit.data.labeled import read_examples, split_examples
from rnnkit.tasks import TASKS
from rnnkit.tasks.language_modeling import prompt_ids
from rnnkit.tasks.runs import run_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("export")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=500, help="language models: tokens to generate")
    parser.add_argument("--prompt", default="def ", help="language models: the prompt")
    parser.add_argument("--eval-tokens", type=int, default=20000, help="language models: tokens of the loss")
    args = parser.parse_args()
    sys.path.insert(0, args.export)
    from run import Exported  # the runner the export carries

    if run_task(args.run) == "lm":
        return generation(args, Exported)
    if run_task(args.run) == "seq2seq":
        return translation(args, Exported)
    if run_task(args.run) == "tag":
        return tagging(args, Exported)
    trained = TASKS["classify"].load_trained(args.run)
    d = trained.config.data
    examples = read_examples(d.train, d.text_column, d.label_column, d.format, trained.classes, d.skip_bad)
    _, valid = split_examples(examples, d.valid_fraction, d.split_seed)
    order = sorted(range(min(args.texts, len(valid))), key=lambda i: len(valid.texts[i]))
    texts = [valid.texts[i] for i in order]
    labels = [valid.labels[i] for i in order]
    fp32, int8 = Exported(args.export), Exported(args.export, "model.int8.onnx")
    torch.set_num_threads(torch.get_num_threads())

    def pytorch():
        return [trained.classes[int(i)] for i in trained.predict(texts, args.batch_size).argmax(-1)]

    def onnx(exported):
        return lambda: [r["label"] for r in exported.classify(texts, args.batch_size)]

    runs = {"PyTorch": pytorch, "onnxruntime fp32": onnx(fp32), "onnxruntime int8": onnx(int8)}
    best, answers = race(runs, args.repeats)
    print(f"{len(texts)} validation texts of {trained.checkpoint}, batch {args.batch_size}, best of {args.repeats}, "
          f"{torch.get_num_threads()} threads")
    print("| | accuracy | texts/s | time vs PyTorch | labels equal to PyTorch's |")
    print("|---|---|---|---|---|")
    for name in runs:
        accuracy = sum(a == b for a, b in zip(answers[name], labels)) / len(labels)
        same = sum(a == b for a, b in zip(answers[name], answers["PyTorch"])) / len(labels)
        print(f"| {name} | {accuracy:.4f} | {len(texts) / best[name]:,.0f} | {best[name] / best['PyTorch']:.2f}x | "
              f"{100 * same:.2f}% |")


def race(runs: dict, repeats: int):
    """(best seconds, last result) of each of ``runs`` (name: a function of nothing), the runs taking
    turns within each repeat, so that a busy moment of the machine falls on all of them alike."""
    best, results = {name: float("inf") for name in runs}, {}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def generation(args, Exported) -> None:
    model, tokenizer, meta = TASKS["lm"].load_trained(args.run)
    ids, _ = prompt_ids(tokenizer, args.prompt)

    def pytorch():
        return tokenizer.decode(model.generate(ids, args.tokens, temperature=0.0))

    def onnx(exported):
        return lambda: "".join(exported.generate(args.prompt, args.tokens, temperature=0.0))

    runs = {"PyTorch": pytorch, "onnxruntime fp32": onnx(Exported(args.export)),
            "onnxruntime int8": onnx(Exported(args.export, "model.int8.onnx"))}
    best, texts = race(runs, args.repeats)
    losses = validation_loss(args, model, tokenizer, meta)
    print(f"greedy generation of {args.tokens} tokens after {args.prompt!r}, {meta['checkpoint']}, best of "
          f"{args.repeats}, {torch.get_num_threads()} threads; loss on the first {args.eval_tokens:,} tokens of the "
          "run's validation text")
    print("| | tokens/s | time vs PyTorch | characters equal to PyTorch's before the first difference | "
          "validation loss (nats/token) |")
    print("|---|---|---|---|---|")
    reference = texts["PyTorch"]
    for name in runs:
        same = next((i for i, (a, b) in enumerate(zip(texts[name], reference)) if a != b), min(len(texts[name]),
                                                                                            len(reference)))
        print(f"| {name} | {args.tokens / best[name]:,.0f} | {best[name] / best['PyTorch']:.2f}x | "
              f"{same:,} of {len(reference):,} | {losses[name]:.4f} |")


def translation(args, Exported) -> None:
    """Beam search (the run's decode settings) and greedy decoding over the first --texts validation
    sentences: sentences/s and corpus BLEU for PyTorch, onnxruntime fp32 and int8."""
    from rnnkit.tasks.decoding import detokenize
    from rnnkit.training.bleu import corpus_scores

    trained = TASKS["seq2seq"].load_trained(args.run)
    d = trained.config.data
    with open(d.valid_source, encoding="utf-8") as f:
        sources = [line.strip() for line in f][:args.texts]
    with open(d.valid_target, encoding="utf-8") as f:
        references = [line.strip() for line in f][:args.texts]
    fp32, int8 = Exported(args.export), Exported(args.export, "int8")
    print(f"{len(sources)} validation sentences of {trained.checkpoint}, best of {args.repeats}, "
          f"{torch.get_num_threads()} threads; rnnkit batches {args.batch_size} sentences, the runner one at a time")
    print("| decoding | | sentences/s | time vs PyTorch | BLEU | outputs equal to PyTorch's |")
    print("|---|---|---|---|---|---|")
    for greedy in (False, True):
        runs = {"PyTorch": lambda: [detokenize(trained.target_vocab, h[0].tokens) for h in
                                    trained.translate(sources, greedy=greedy, batch_size=args.batch_size)],
                "onnxruntime fp32": lambda: [r["translation"] for r in fp32.translate(sources, greedy=greedy)],
                "onnxruntime int8": lambda: [r["translation"] for r in int8.translate(sources, greedy=greedy)]}
        best, outputs = race(runs, args.repeats)
        for name in runs:
            bleu = corpus_scores(outputs[name], references)["bleu"]
            same = sum(a == b for a, b in zip(outputs[name], outputs["PyTorch"])) / len(sources)
            print(f"| {'greedy' if greedy else f'beam {trained.config.decode.beam_size}'} | {name} | "
                  f"{len(sources) / best[name]:,.1f} | {best[name] / best['PyTorch']:.2f}x | {bleu:.2f} | "
                  f"{100 * same:.1f}% |")


def tagging(args, Exported) -> None:
    """Exact-span F1 and sentences/s over the first --texts sentences of the run's validation file."""
    from rnnkit.data.schemes import spans
    from rnnkit.tasks.tagging import read
    from rnnkit.training.metrics import span_metrics

    trained = TASKS["tag"].load_trained(args.run)
    d = trained.config.data
    sentences = read(d.valid, d)
    tokens, gold = sentences.tokens[:args.texts], sentences.tags[:args.texts]
    fp32, int8 = Exported(args.export), Exported(args.export, "model.int8.onnx")
    runs = {"PyTorch": lambda: trained.tag(tokens, args.batch_size),
            "onnxruntime fp32": lambda: [r["tags"] for r in fp32.tag(tokens, args.batch_size)],
            "onnxruntime int8": lambda: [r["tags"] for r in int8.tag(tokens, args.batch_size)]}
    best, outputs = race(runs, args.repeats)
    print(f"{len(tokens)} validation sentences of {trained.checkpoint}, batch {args.batch_size}, best of "
          f"{args.repeats}, {torch.get_num_threads()} threads (the runner's batches in input order, rnnkit's sorted)")
    print("| | span F1 | sentences/s | time vs PyTorch | sentences tagged as PyTorch tags them |")
    print("|---|---|---|---|---|")
    for name in runs:
        f1 = span_metrics([spans(g) for g in gold], [spans(p) for p in outputs[name]])["f1"]
        same = sum(a == b for a, b in zip(outputs[name], outputs["PyTorch"])) / len(tokens)
        print(f"| {name} | {100 * f1:.2f} | {len(tokens) / best[name]:,.0f} | {best[name] / best['PyTorch']:.2f}x | "
              f"{100 * same:.2f}% |")


def validation_loss(args, model, tokenizer, meta) -> dict:
    """Mean cross-entropy of each next token over the start of the run's validation text, in one pass
    with the state carried: PyTorch, and the two ONNX files."""
    import numpy as np
    import onnxruntime

    from rnnkit.tasks.language_modeling import RunConfig, split_texts
    from rnnkit.training.config import build

    config = build(RunConfig, meta["config"])
    ids = torch.tensor([tokenizer.encode(split_texts(config.data)[1])[:args.eval_tokens + 1]])
    inputs, targets = ids[:, :-1], ids[0, 1:]
    with torch.no_grad():
        losses = {"PyTorch": float(torch.nn.functional.cross_entropy(model(inputs)[0][0], targets))}
    cfg = model.rnn.config
    zeros = np.zeros((cfg.num_layers, 1, cfg.hidden_size), np.float32)
    for name, file in (("onnxruntime fp32", "model.onnx"), ("onnxruntime int8", "model.int8.onnx")):
        session = onnxruntime.InferenceSession(f"{args.export}/{file}", providers=["CPUExecutionProvider"])
        logits = torch.from_numpy(session.run(None, {"tokens": inputs.numpy(), "h0": zeros, "c0": zeros})[0][0])
        losses[name] = float(torch.nn.functional.cross_entropy(logits, targets))
    return losses


if __name__ == "__main__":
    main()
