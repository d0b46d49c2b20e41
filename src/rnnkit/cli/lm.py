"""`rnnkit evaluate` for a language model, and `rnnkit generate`."""

import json
import os
import sys
import time

from .common import error, report_unknown


def evaluate_lm(args) -> int:
    from ..data import DataError
    from ..tasks.language_modeling import evaluate_file, load_trained
    from ..training.checkpoint import CheckpointError

    try:
        model, tokenizer, meta = load_trained(args.run_dir, args.checkpoint)
        metrics, unknown = evaluate_file(args.data, model, tokenizer, meta, args.batch_size or 16, args.bptt)
    except (DataError, CheckpointError, FileNotFoundError) as problem:
        return error(str(problem))
    handling = "dropped" if tokenizer.kind == "char" else "read as <unk>"
    report_unknown(unknown, f"symbols of {args.data} ({handling}) are")
    metrics = {"data": args.data, "checkpoint": meta["checkpoint"], **metrics}
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"{args.data}: loss {metrics['loss']:.4f} nats/token, perplexity {metrics['perplexity']:.2f}, "
              f"{metrics['bits_per_char']:.4f} bits/char over {metrics['tokens']:,} tokens "
              f"({os.path.basename(meta['checkpoint'])})")
    return 0


def generate(args) -> int:
    import torch

    from ..tasks.language_modeling import load_trained, prompt_ids
    from ..training.checkpoint import CheckpointError

    try:
        model, tokenizer, meta = load_trained(args.run_dir, args.checkpoint)
    except (CheckpointError, FileNotFoundError) as problem:
        return error(str(problem))
    prompt = args.prompt.encode("utf-8").decode("unicode_escape") if args.escapes else args.prompt
    ids, unknown = prompt_ids(tokenizer, prompt)
    handling = "left out" if tokenizer.kind == "char" else "read as <unk>"
    report_unknown(unknown, f"prompt symbols ({handling}) are")
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
