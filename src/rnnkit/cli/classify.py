"""`rnnkit predict`: a trained classifier's labels and probabilities for texts."""

import os
import sys
import time

from .common import error, load_run


def read_prediction_texts(args):
    """Chunks of (origin, text): from a CSV/TSV/JSON-lines file, its text column; from any other file or
    stdin, one text per line. Chunks of a few batches, so predictions stream out as input streams in
    (one line at a time when a person is typing)."""
    from ..data.labeled import OPENERS, input_lines, read_examples

    chunk = max(args.batch_size, 1) * 4
    path = args.file if args.file and args.file != "-" else None
    name = path.lower() if path else ""
    for suffix in OPENERS:
        name = name.removesuffix(suffix)
    if path and (os.path.isdir(path) or name.endswith((".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json"))):
        examples = read_examples(path, args.text_column or "text", "\0", need_label=False)
        pairs = list(zip(examples.origins, examples.texts))
        for start in range(0, len(pairs), chunk):
            yield pairs[start:start + chunk]
        return
    if path is None and sys.stdin.isatty():
        chunk = 1
    pending = []
    for number, line in input_lines(path):
        text = line.rstrip("\r\n")
        if text.strip():
            pending.append((f"{path or '<stdin>'}:{number}", text))
        if len(pending) >= chunk:
            yield pending
            pending = []
    if pending:
        yield pending


def predict(args) -> int:
    from ..data import DataError
    from ..tasks.classification import dumps, prediction_record

    trained, failed = load_run(args, "classify")
    if failed is not None:
        return failed
    start, count = time.perf_counter(), 0
    try:
        for chunk in read_prediction_texts(args):
            probabilities = trained.predict([text for _, text in chunk], args.batch_size)
            for (origin, _), row in zip(chunk, probabilities):
                record = prediction_record(row, trained.classes)
                if args.json:
                    print(dumps({"source": origin, **record}))
                else:
                    shown = " ".join(f"{c}={p:.4f}" for c, p in record["probabilities"].items())
                    print(f"{record['label']}\t{shown}")
            sys.stdout.flush()
            count += len(chunk)
    except BrokenPipeError:
        raise  # the reader went away (| head): main() ends quietly
    except (DataError, OSError) as problem:
        return error(str(problem))
    if args.verbose:
        elapsed = time.perf_counter() - start
        print(f"[{count:,} texts in {elapsed:.2f} s: {count / max(elapsed, 1e-9):,.0f} texts/s]", file=sys.stderr)
    return 0
