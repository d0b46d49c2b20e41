"""`rnnkit generate`: text sampled from a trained language model, streamed."""

import sys
import time

from .common import load_run, report_unknown


def generate(args) -> int:
    import torch

    from ..tasks.language_modeling import prompt_ids

    trained, failed = load_run(args, "lm")
    if failed is not None:
        return failed
    model, tokenizer, meta = trained
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
