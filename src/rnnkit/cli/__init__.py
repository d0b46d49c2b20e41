"""The rnnkit command line: the one place that prints. One module per group of verbs (training,
lm, classify, tag, bench); this one holds the parser and ``main``.

Exit codes (rnnkit/errors.py, the README's table): 0 done, 1 bad input (file, config, checkpoint: the
message says which and why), 2 bad command line (argparse: numeric options are range-checked there),
3 the loss diverged (NaN/Inf; the last checkpoint is still good), 130 interrupted (Ctrl-C; resume
continues from the last checkpoint). Any RnnkitError a verb did not report itself is turned into its
message and exit code here.
"""

import argparse
import json
import os
import sys

from .. import __version__
from . import bench as bench_verb
from . import export as export_verb
from . import serve as serve_verb
from . import classify, forecast, lm, training, translate
from . import tag as tag_verb
from ..tasks import TASKS
from ..errors import EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED, RnnkitError
from ..tasks.contract import number, whole
from .common import error, note
from .flags import add_task_flags

__all__ = ["main", "build_parser", "EXIT_BAD_INPUT", "EXIT_DIVERGED", "EXIT_INTERRUPTED"]


def evaluate_run(args) -> int:
    """`rnnkit evaluate`: the run's task measures it (its ``evaluate``, tasks/contract.py)."""
    from ..data import DataError
    from ..tasks import TASKS
    from ..tasks.runs import run_task
    from ..training.checkpoint import CheckpointError
    from .flags import task_values

    try:
        kind = run_task(args.run_dir)
        if kind not in TASKS:
            return error(f"{args.run_dir}: a run of task {kind!r}, which this rnnkit does not know")
        options, foreign = task_values(args, kind, "EVALUATE_FLAGS")
        if foreign:
            owners = sorted({TASKS[t].RUNS for tasks in foreign.values() for t in tasks})
            return error(f"{' and '.join(foreign)}: for {' or '.join(owners)} runs; {args.run_dir} is a {kind!r} run")
        report = TASKS[kind].evaluate(args.run_dir, args.checkpoint, args.data, args.batch_size, **options)
    except (DataError, CheckpointError, FileNotFoundError, ValueError) as problem:
        return error(str(problem))
    for line in report.notes:
        note(line)
    if args.json:
        print(json.dumps(report.metrics, ensure_ascii=False))
    else:
        print("\n".join(report.lines))
    return 0


# --- the parser ----------------------------------------------------------------------------------
CONFIG_HELP = ("Configuration: sections data, model and train (every key: "
               + ", ".join(f"docs/{task.DOCS}" for task in TASKS.values()) + "; the recurrent layer's model.* "
               "keys, the same in every task: docs/cells.md). Later sources win: defaults < --config files < the "
               "options above (--data, --target, ...) < --set overrides.")


def run_arguments(parser, batch_size=None, verbose=None) -> None:
    """What every verb on a trained run takes: RUN_DIR, --checkpoint, and (with their defaults and
    what they count) --batch-size and --verbose."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory or checkpoint directory")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best",
                        help="which checkpoint of a run directory (default: best)")
    if batch_size:
        default, what = batch_size
        parser.add_argument("--batch-size", type=whole(1), default=default, help=f"{what} (default {default})")
    if verbose:
        parser.add_argument("--verbose", action="store_true", help=f"report {verbose} on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks, from equations to "
                                     "a trained model: train, resume, evaluate, predict, tag, translate, generate, "
                                     "serve, export, bench.")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    train = verbs.add_parser("train", help="train a model for a task into a run directory",
                             description="Train a model and write its run directory: config.yaml, metrics.jsonl, "
                                         "tensorboard/, checkpoints/ (safetensors + JSON), loss.png.",
                             epilog=CONFIG_HELP)
    train.add_argument("task", choices=list(TASKS), help="; ".join(f"{name}: {module.SUMMARY}"
                                                                    for name, module in TASKS.items()))
    add_task_flags(train, "TRAIN_FLAGS")
    train.add_argument("--config", metavar="YAML", action="append", help="config file(s), applied in order")
    train.add_argument("--set", metavar="KEY=VALUE", action="append",
                       help="override one key, e.g. --set train.lr=1e-3 --set model.cell=gru (value read as YAML)")
    train.add_argument("--out", metavar="RUN_DIR", required=True, help="run directory to create")
    train.add_argument("--force", action="store_true", help="replace an existing run directory")
    train.add_argument("--quiet", action="store_true", help="no progress bar, only the final summary")
    train.set_defaults(run=training.train)

    resume = verbs.add_parser("resume", help="continue a run from its last checkpoint",
                              description="Continue RUN_DIR exactly where its last checkpoint left it (weights, "
                                          "optimizer, RNG states, data position, carried state): the result is "
                                          "the same, bit for bit, as an uninterrupted run.")
    resume.add_argument("run_dir", metavar="RUN_DIR")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    resume.set_defaults(run=training.resume)

    evaluate = verbs.add_parser("evaluate", help="metrics of a trained model on a file",
                                description=" ".join(f"{name}: {module.evaluate.__doc__.strip()}"
                                                     for name, module in TASKS.items()))
    run_arguments(evaluate)
    evaluate.add_argument("--data", metavar="FILE", help="text (lm), labeled data (classify, tag), a series "
                          "(forecast) or a TSV file of sentence pairs (seq2seq)")
    evaluate.add_argument("--batch-size", type=whole(1), default=None, help="lm: parallel streams (default 16); "
                          "classify, tag: texts per batch (default 256); seq2seq: sentences per batch (default: the "
                          "run's data.eval_batch_size)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    add_task_flags(evaluate, "EVALUATE_FLAGS")
    evaluate.set_defaults(run=evaluate_run)

    predict = verbs.add_parser("predict", help="classify texts with a trained classifier",
                               description="Print the predicted label and the probability of every class for "
                                           "each text: from FILE's text column (CSV, TSV, JSON lines), or one text "
                                           "per line (any other file, or stdin). Batched, sorted by length.")
    run_arguments(predict, batch_size=(256, "texts per batch"), verbose="throughput (texts/s)")
    predict.add_argument("file", metavar="FILE", nargs="?", help="input (default: stdin, one text per line)")
    predict.add_argument("--text-column", metavar="NAME", help="the text column of a CSV/TSV/JSON-lines FILE "
                         "(default: text)")
    predict.add_argument("--json", action="store_true",
                         help='JSON lines: {"source", "label", "probability", "probabilities"}')
    predict.set_defaults(run=classify.predict)

    tag = verbs.add_parser("tag", help="tag tokens with a trained sequence tagger (named entities ...)",
                           description="Tag FILE or stdin. CoNLL input: the file is written back with the "
                                       "predicted tag as a new last column. Plain text: one sentence per line, "
                                       "tokenized by a simple rule; `token tag` lines, or with --json the spans "
                                       "with character offsets. Tags are written in the training files' scheme.")
    run_arguments(tag, batch_size=(256, "sentences per batch"), verbose="throughput (tokens/s)")
    tag.add_argument("file", metavar="FILE", nargs="?", help="input (default: stdin, plain text)")
    tag.add_argument("--input", choices=["auto", "conll", "jsonl", "text"], default="auto",
                     help="the input's form (default: from the name and the first lines)")
    tag.add_argument("--token-column", type=whole(0), default=0, help="CoNLL: the tokens' column (default 0)")
    tag.add_argument("--json", action="store_true", help="one JSON object per sentence, with its spans")
    tag.set_defaults(run=tag_verb.tag)

    tr = verbs.add_parser("translate", help="translate (or summarize) one sentence per line with a seq2seq model",
                          description="Read FILE or stdin, one input per line, and print one output per line, in "
                                      "the input's order (an empty line gives an empty line). Beam search with the "
                                      "run's decode settings unless overridden; chunks of lines are length-sorted "
                                      "and batched, and stream out as they are done (line by line at a terminal).")
    run_arguments(tr, batch_size=(64, "sentences per batch"), verbose="throughput (sentences/s)")
    tr.add_argument("file", metavar="FILE", nargs="?", help="input, one sentence per line (default or -: stdin)")
    tr.add_argument("--beam-size", type=whole(1), metavar="K", help="beam size (default: the run's decode.beam_size)")
    tr.add_argument("--n-best", type=whole(1), default=1, metavar="N", help="print the N best hypotheses as "
                    "'i ||| hypothesis ||| score' lines (Moses' n-best format, i from 0; default 1: the "
                    "translations alone)")
    tr.add_argument("--greedy", action="store_true", help="greedy decoding (fastest) instead of beam search")
    tr.add_argument("--length-penalty", type=number(0), metavar="ALPHA", help="GNMT's length penalty alpha "
                    "(default: the run's decode.length_penalty; 0 = none)")
    tr.add_argument("--max-length-a", type=number(0), metavar="A", help="at most floor(A * source tokens + B) "
                    "output tokens (default: the run's decode.max_length_a)")
    tr.add_argument("--max-length-b", type=number(0), metavar="B", help="(default: the run's decode.max_length_b)")
    tr.add_argument("--attention-plot", metavar="DIR", help="write an attention heatmap per sentence, "
                    "DIR/00001.png for line 1 (source subwords x output subwords)")
    tr.set_defaults(run=translate.translate)

    fc = verbs.add_parser("forecast", help="forecast a series with a trained forecaster; intervals, plot, alerts",
                          description="Forecast the K steps after the last row of --data (which needs the run's "
                                      "columns and at least C rows): CSV rows time,series,forecast and the quantiles "
                                      "(backtest.quantiles and the interval's bounds). With --alerts: every row after "
                                      "the first C is compared with its one-step-ahead interval (--level), and the "
                                      "observations outside it are listed, with a summary.")
    run_arguments(fc)
    fc.add_argument("--data", metavar="CSV", required=True, help="the series' history, same columns as in training")
    fc.add_argument("--future", metavar="CSV", help="values of the future covariates for the K forecast steps")
    fc.add_argument("--output", metavar="CSV", help="write the CSV there (default: stdout)")
    fc.add_argument("--plot", metavar="PNG", help="draw history, forecast and interval")
    fc.add_argument("--alerts", action="store_true", help="flag observations outside their one-step-ahead interval")
    fc.add_argument("--level", type=number(0, 1, low_open=True, high_open=True), default=None,
                    help="--alerts: the interval's probability (default 0.95)")
    fc.set_defaults(run=forecast.forecast)

    generate = verbs.add_parser("generate", help="sample text from a trained language model, streamed",
                                description="Prime the model with --prompt, then sample token by token "
                                            "(memory constant in the generated length), printing as it goes.")
    run_arguments(generate, verbose="timing")
    generate.add_argument("--prompt", default="", help="priming text (default: start of a line)")
    generate.add_argument("--escapes", action="store_true", help="read \\n, \\t in --prompt as escapes")
    generate.add_argument("--max-tokens", type=whole(0), default=500, help="tokens to generate (default 500)")
    generate.add_argument("--temperature", type=number(0), default=0.8,
                          help="softmax temperature; 0 = greedy (default 0.8)")
    generate.add_argument("--top-k", type=whole(0), default=0, help="sample among the k most likely (0 = all)")
    generate.add_argument("--top-p", type=number(0, 1, low_open=True), default=1.0, help="nucleus sampling mass (1 = off)")
    generate.add_argument("--seed", type=whole(0), default=0, help="random seed: same seed, same text")
    generate.add_argument("--stop-at-eos", action="store_true", help="word level: stop at the end of a line")
    generate.set_defaults(run=lm.generate)

    sv = verbs.add_parser("serve", help="serve trained runs over HTTP (JSON API, web page), with micro-batching",
                          description="Load each run once and answer HTTP requests: GET /health, GET /v1/models, and "
                                      "POST /v1/models/NAME/{generate,classify,tag,translate,forecast} by the run's "
                                      "task; the API's schema at /docs. Concurrent requests to a model are batched. "
                                      "docs/deploy.md has the endpoints, with curl examples.")
    sv.add_argument("runs", metavar="RUN_DIR", nargs="+", help="a run (or checkpoint) directory, or NAME=RUN_DIR "
                    "(the name defaults to the directory's)")
    sv.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint (default: best)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=whole(0), default=8000, help="port (default 8000; 0: any free one)")
    sv.add_argument("--max-body-bytes", type=whole(1), default=1 << 20, help="larger bodies get 413 (default 1 MiB)")
    sv.add_argument("--max-texts", type=whole(1), default=64, help="texts per request (default 64)")
    sv.add_argument("--max-tokens-per-text", type=whole(1), default=1000, help="words per text (default 1000)")
    sv.add_argument("--max-new-tokens", type=whole(1), default=1000, help="tokens one generation may ask (default 1000)")
    sv.add_argument("--timeout", type=number(0, low_open=True), default=30.0, help="seconds before 504 (default 30)")
    sv.add_argument("--queue-size", type=whole(1), default=64, help="requests waiting per model before 503 (default 64)")
    sv.add_argument("--batch-size", type=whole(1), default=64, help="texts in one forward pass (default 64)")
    sv.add_argument("--batch-wait-ms", type=number(0), default=5.0, help="how long a batch waits for more requests "
                    "to join (default 5 ms; 0: batch only what is already waiting)")
    sv.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"], default="info",
                    help="uvicorn's log level (default info: one line per request)")
    sv.set_defaults(run=serve_verb.serve)

    ex = verbs.add_parser("export", help="write a trained run as ONNX, with a runner that needs no PyTorch",
                          description="Write RUN_DIR's model as ONNX (the recurrent state as explicit inputs and "
                                      "outputs, batch and time axes free, lengths as ONNX's sequence_lens), its "
                                      "vocabulary and labels (rnnkit-export.json), and run.py, a runner on "
                                      "onnxruntime, numpy and tokenizers alone. Tasks so far: classify, lm, tag, seq2seq.")
    run_arguments(ex)
    ex.add_argument("--format", choices=["onnx"], default="onnx", help="the format (onnx)")
    ex.add_argument("--out", metavar="DIR", help="where to write (default RUN_DIR/onnx)")
    ex.add_argument("--quantize", choices=["int8"], help="also write NAME.int8.onnx beside each file "
                    "(onnxruntime's dynamic int8 quantization)")
    ex.set_defaults(run=export_verb.export)

    bench = verbs.add_parser("bench", help="benchmarks run side by side with torch.nn")
    what = bench.add_subparsers(dest="what", metavar="WHAT", required=True)
    cells = what.add_parser("cells", help="time rnnkit's layers against torch.nn's (forward, forward+backward)",
                            description="Times each rnnkit layer configuration next to torch.nn in one process "
                                        "and prints the ratio, achieved GFLOP/s and a matmul ceiling.")
    cells.add_argument("--quick", action="store_true", help="hidden 256, one layer, 3 repeats (about a minute or two)")
    cells.add_argument("--json", action="store_true", help="one JSON object per row on stdout, nothing else")
    cells.add_argument("--threads", type=whole(0), default=0, help="torch threads (default: torch's choice)")
    cells.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]: against cuDNN on a GPU")
    cells.set_defaults(run=bench_verb.bench)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except RnnkitError as problem:  # bad input the verb did not report itself: one line, its exit code
        error(str(problem))
        return problem.exit_code
    except BrokenPipeError:  # `rnnkit predict ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0


if __name__ == "__main__":
    sys.exit(main())
