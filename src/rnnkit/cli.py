"""The rnnkit command line: the one place that prints.

Exit codes: 0 done, 1 bad input (file, config, checkpoint: the message says which and why),
2 bad command line (argparse), 3 the loss diverged (NaN/Inf; the last checkpoint is still good),
130 interrupted (Ctrl-C; resume continues from the last checkpoint).
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

from . import __version__

EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 3, 130


def _error(message: str) -> int:
    print(f"rnnkit: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


# --- progress ------------------------------------------------------------------------------------
class ProgressBar:
    """A tqdm bar on stderr: loss, learning rate, tokens/s and ETA; validation results as lines."""

    def __init__(self, quiet: bool = False):
        self.quiet, self.bar = quiet, None

    def on_start(self, trainer):
        from tqdm import tqdm

        cfg = trainer.config
        if cfg.max_steps:
            total, unit = cfg.max_steps, "step"
        elif cfg.time_budget:
            total, unit = int(cfg.time_budget), "s"
        else:
            total, unit = None, "step"
        self.unit = unit
        initial = trainer.step if unit == "step" else int(trainer.elapsed)
        if not self.quiet:
            interactive = sys.stderr.isatty()  # a log file gets a line every 30 s, not a redraw per step
            self.bar = tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True, file=sys.stderr,
                            desc="train", smoothing=0.05, mininterval=0.5 if interactive else 30.0)
            if trainer.resumed_from:
                self.bar.write(f"resumed from {trainer.resumed_from} (step {trainer.step})")
        self.tokens_per_s = 0.0

    def on_step(self, trainer, record):
        if self.bar is None:
            return
        self.tokens_per_s = record.get("tokens_per_s", self.tokens_per_s)
        if self.unit == "step":
            self.bar.update(1)
        else:
            self.bar.update(max(0, int(record["elapsed"]) - self.bar.n))
        if record["step"] % trainer.config.log_every == 0 or record["step"] == 1:
            self.bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}",
                                 tok_s=f"{self.tokens_per_s:,.0f}", ep=f"{record['epochs']:.2f}", refresh=False)

    def on_eval(self, trainer, record):
        line = (f"step {record['step']}: valid loss {record['loss']:.4f}, perplexity {record['perplexity']:.2f}, "
                f"bits/char {record['bits_per_char']:.4f}{'  (best)' if record['improved'] else ''}")
        if self.bar is not None:
            self.bar.write(line)
        elif not self.quiet:
            print(line, file=sys.stderr)

    def on_checkpoint(self, trainer, path):
        pass

    def on_end(self, trainer, summary):
        if self.bar is not None:
            self.bar.close()


# --- verbs ---------------------------------------------------------------------------------------
def _run_training(task, run_dir: str, checkpoint, quiet: bool) -> int:
    from .training import TrainingDiverged

    trainer = task.trainer(run_dir, callbacks=[ProgressBar(quiet)])
    if checkpoint:
        trainer.load(checkpoint)
    try:
        summary = trainer.fit()
    except TrainingDiverged as error:
        from .training.checkpoint import read_pointer

        last = read_pointer(os.path.join(run_dir, "checkpoints"), "last")
        print(f"rnnkit: training stopped: {error}. "
              + (f"The last good checkpoint is {last}." if last else "No checkpoint was written before it."),
              file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt:
        print(f"\nrnnkit: interrupted; `rnnkit resume {run_dir}` continues from the last checkpoint",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    loss = summary["best_loss"]
    print(f"done: {summary['steps']} steps in {summary['elapsed']:.0f} s; best valid loss {loss:.4f} "
          f"(perplexity {math.exp(min(loss, 700)):.2f}, {loss / math.log(2):.4f} bits/token) at step "
          f"{summary['best_step']}{', stopped early' if summary['stopped_early'] else ''}")
    if summary["final"]:
        final = summary["final"]
        print(f"all of the validation data: loss {final['loss']:.4f}, perplexity {final['perplexity']:.2f}, "
              f"{final['bits_per_char']:.4f} bits/char")
    print(f"run: {run_dir} (best checkpoint {os.path.basename(summary['best_checkpoint'] or '-')}, "
          f"metrics.jsonl, tensorboard/, loss.png)")
    return 0


def _train(args) -> int:
    from .data import DataError
    from .tasks import TASKS
    from .training import ConfigError, resolve

    task_module = TASKS[args.task]
    base = {}
    if args.data:
        base.setdefault("data", {})["train"] = args.data
    if args.valid:
        base.setdefault("data", {})["valid"] = args.valid
    try:
        config = resolve(task_module.RunConfig, base=base, files=args.config or [], overrides=args.set or [])
    except ConfigError as error:
        return _error(str(error))
    run_dir = args.out
    if os.path.exists(run_dir) and os.listdir(run_dir):
        if not args.force:
            return _error(f"{run_dir} is not empty: `rnnkit resume {run_dir}` continues a run there, "
                          "--force starts a new one in its place")
        if not os.path.exists(os.path.join(run_dir, "config.yaml")):
            return _error(f"{run_dir}: --force only replaces an rnnkit run directory (one with config.yaml)")
        shutil.rmtree(run_dir)
    try:
        task = task_module.Task(config)
    except (DataError, FileNotFoundError, ValueError) as error:
        return _error(str(error))
    task_module.save_run_config(run_dir, config)
    if not args.quiet:
        model = task.model
        params = sum(p.numel() for p in model.parameters())
        print(f"{args.task}: {task.train_ids.numel():,} training and {task.valid_ids.numel():,} validation tokens, "
              f"vocabulary {len(task.tokenizer):,} ({config.data.tokenizer}); {config.model.cell} "
              f"{config.model.num_layers}x{config.model.hidden_size}, {params:,} parameters, path "
              f"{model.rnn.path}", file=sys.stderr)
    return _run_training(task, run_dir, None, args.quiet)


def _resume(args) -> int:
    from .data import DataError
    from .tasks import TASKS
    from .training.checkpoint import CheckpointError

    if not os.path.isfile(os.path.join(args.run_dir, "config.yaml")):
        return _error(f"{args.run_dir}: not a run directory (no config.yaml)")
    try:
        task, checkpoint = TASKS["lm"].resume_task(args.run_dir)
    except (DataError, CheckpointError, FileNotFoundError, ValueError) as error:
        return _error(str(error))
    return _run_training(task, args.run_dir, checkpoint, args.quiet)


def _report_unknown(unknown, what: str) -> None:
    if unknown:
        shown = ", ".join(f"{s!r} x{n}" for s, n in unknown.most_common(10))
        print(f"rnnkit: note: {sum(unknown.values())} {what} not in the model's vocabulary "
              f"({shown}{', ...' if len(unknown) > 10 else ''})", file=sys.stderr)


def _evaluate(args) -> int:
    from .data import DataError
    from .tasks.language_modeling import evaluate_file, load_trained
    from .training.checkpoint import CheckpointError

    try:
        model, tokenizer, meta = load_trained(args.run_dir, args.checkpoint)
        metrics, unknown = evaluate_file(args.data, model, tokenizer, meta, args.batch_size, args.bptt)
    except (DataError, CheckpointError, FileNotFoundError) as error:
        return _error(str(error))
    handling = "dropped" if tokenizer.kind == "char" else "read as <unk>"
    _report_unknown(unknown, f"symbols of {args.data} ({handling}) are")
    metrics = {"data": args.data, "checkpoint": meta["checkpoint"], **metrics}
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"{args.data}: loss {metrics['loss']:.4f} nats/token, perplexity {metrics['perplexity']:.2f}, "
              f"{metrics['bits_per_char']:.4f} bits/char over {metrics['tokens']:,} tokens "
              f"({os.path.basename(meta['checkpoint'])})")
    return 0


def _generate(args) -> int:
    import torch

    from .tasks.language_modeling import load_trained, prompt_ids
    from .training.checkpoint import CheckpointError

    try:
        model, tokenizer, meta = load_trained(args.run_dir, args.checkpoint)
    except (CheckpointError, FileNotFoundError) as error:
        return _error(str(error))
    prompt = args.prompt.encode("utf-8").decode("unicode_escape") if args.escapes else args.prompt
    ids, unknown = prompt_ids(tokenizer, prompt)
    handling = "left out" if tokenizer.kind == "char" else "read as <unk>"
    _report_unknown(unknown, f"prompt symbols ({handling}) are")
    generator = torch.Generator().manual_seed(args.seed)
    stop = getattr(tokenizer, "eos", None) if args.stop_at_eos else None
    tokens = model.generate(ids, args.max_tokens, args.temperature, args.top_k, args.top_p, generator, stop)
    sys.stdout.write(prompt)
    start = time.perf_counter()
    count = 0
    for piece in tokenizer.stream_decode(tokens):
        sys.stdout.write(piece)
        sys.stdout.flush()
        count += 1
    sys.stdout.write("\n")
    if args.verbose:
        print(f"[{count} pieces in {time.perf_counter() - start:.2f} s]", file=sys.stderr)
    return 0


def _bench(args) -> int:
    import torch

    from .bench import BATCH, STEPS, cell_benchmark

    if args.threads:
        torch.set_num_threads(args.threads)
    progress = None if args.json else (lambda text: print(f"  ... {text}", file=sys.stderr, flush=True))
    if not args.json:
        print(f"rnnkit {__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"batch {BATCH}, {STEPS} steps, input = hidden; ratio = rnnkit / torch.nn (lower is better)")
        print(f"{'layer':<30}{'H':>5}{'L':>3}  {'path':<9}{'fwd ms':>9}{'ratio':>7}{'train ms':>10}{'ratio':>7}"
              f"{'GFLOP/s':>9}{'ceiling':>9}")
    for row in cell_benchmark(quick=args.quick, progress=progress):
        if args.json:
            print(json.dumps(row.as_dict()), flush=True)
        else:
            print(f"{row.name:<30}{row.hidden:>5}{row.layers:>3}  {row.path:<9}{row.forward_ms:>9.1f}"
                  f"{row.forward_ratio:>7.2f}{row.train_ms:>10.1f}{row.train_ratio:>7.2f}"
                  f"{row.train_gflops:>9.1f}{row.ceiling_gflops:>9.1f}", flush=True)
    return 0


# --- the parser ----------------------------------------------------------------------------------
CONFIG_HELP = ("Configuration: sections data, model and train (see docs/language-modeling.md for every key). "
               "Later sources win: defaults < --config files < --set overrides.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks, from equations to "
                                     "a trained model: train, resume, evaluate, generate, bench.")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    train = verbs.add_parser("train", help="train a model for a task into a run directory",
                             description="Train a model and write its run directory: config.yaml, metrics.jsonl, "
                                         "tensorboard/, checkpoints/ (safetensors + JSON), loss.png.",
                             epilog=CONFIG_HELP)
    train.add_argument("task", choices=["lm"], help="lm: language model (character, word or BPE level)")
    train.add_argument("--data", metavar="FILE", help="training text (UTF-8); without --valid its last "
                       "data.valid_fraction (10%%) is held out. Default: the Python standard library's source")
    train.add_argument("--valid", metavar="FILE", help="validation text (UTF-8)")
    train.add_argument("--config", metavar="YAML", action="append", help="config file(s), applied in order")
    train.add_argument("--set", metavar="KEY=VALUE", action="append",
                       help="override one key, e.g. --set train.lr=1e-3 --set model.cell=gru (value read as YAML)")
    train.add_argument("--out", metavar="RUN_DIR", required=True, help="run directory to create")
    train.add_argument("--force", action="store_true", help="replace an existing run directory")
    train.add_argument("--quiet", action="store_true", help="no progress bar, only the final summary")
    train.set_defaults(run=_train)

    resume = verbs.add_parser("resume", help="continue a run from its last checkpoint",
                              description="Continue RUN_DIR exactly where its last checkpoint left it (weights, "
                                          "optimizer, RNG states, data position, carried state): the result is "
                                          "the same, bit for bit, as an uninterrupted run.")
    resume.add_argument("run_dir", metavar="RUN_DIR")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    resume.set_defaults(run=_resume)

    evaluate = verbs.add_parser("evaluate", help="loss, perplexity and bits per character on a text file",
                                description="Evaluate a trained language model on FILE, read as contiguous "
                                            "streams with the state carried (as in training).")
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="run directory or checkpoint directory")
    evaluate.add_argument("--data", metavar="FILE", required=True, help="text to evaluate on (UTF-8)")
    evaluate.add_argument("--checkpoint", choices=["best", "last"], default="best",
                          help="which checkpoint of a run directory (default: best)")
    evaluate.add_argument("--batch-size", type=int, default=16, help="parallel streams (default 16)")
    evaluate.add_argument("--bptt", type=int, default=256, help="steps per window (default 256)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(run=_evaluate)

    generate = verbs.add_parser("generate", help="sample text from a trained language model, streamed",
                                description="Prime the model with --prompt, then sample token by token "
                                            "(memory constant in the generated length), printing as it goes.")
    generate.add_argument("run_dir", metavar="RUN_DIR", help="run directory or checkpoint directory")
    generate.add_argument("--prompt", default="", help="priming text (default: start of a line)")
    generate.add_argument("--escapes", action="store_true", help="read \\n, \\t in --prompt as escapes")
    generate.add_argument("--max-tokens", type=int, default=500, help="tokens to generate (default 500)")
    generate.add_argument("--temperature", type=float, default=0.8,
                          help="softmax temperature; 0 = greedy (default 0.8)")
    generate.add_argument("--top-k", type=int, default=0, help="sample among the k most likely (0 = all)")
    generate.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    generate.add_argument("--seed", type=int, default=0, help="random seed: same seed, same text")
    generate.add_argument("--stop-at-eos", action="store_true", help="word level: stop at the end of a line")
    generate.add_argument("--checkpoint", choices=["best", "last"], default="best")
    generate.add_argument("--verbose", action="store_true", help="report timing on stderr")
    generate.set_defaults(run=_generate)

    bench = verbs.add_parser("bench", help="benchmarks run side by side with torch.nn")
    what = bench.add_subparsers(dest="what", metavar="WHAT", required=True)
    cells = what.add_parser("cells", help="time rnnkit's layers against torch.nn's (forward, forward+backward)",
                            description="Times each rnnkit layer configuration next to torch.nn in one process "
                                        "and prints the ratio, achieved GFLOP/s and a matmul ceiling.")
    cells.add_argument("--quick", action="store_true", help="hidden 256, one layer, 3 repeats (about a minute or two)")
    cells.add_argument("--json", action="store_true", help="one JSON object per row on stdout, nothing else")
    cells.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    cells.set_defaults(run=_bench)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    if getattr(args, "max_tokens", 1) < 0 or getattr(args, "top_p", 1.0) <= 0 or getattr(args, "top_p", 1.0) > 1:
        parser.error("--max-tokens must be >= 0 and --top-p in (0, 1]")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
