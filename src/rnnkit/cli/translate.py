"""`rnnkit translate` (translation and summarization alike: one input per line in, one output per line out)."""

import dataclasses
import os
import sys
import time

from .common import error, load_run


def decode_settings(trained, args):
    """The run's ``decode`` section with the command line's overrides (a ValueError names a bad one)."""
    overrides = {"beam_size": getattr(args, "beam_size", None), "length_penalty": getattr(args, "length_penalty", None),
                 "max_length_a": getattr(args, "max_length_a", None),
                 "max_length_b": getattr(args, "max_length_b", None)}
    changed = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(trained.config.decode, **changed)


def read_chunks(path, size: int):
    """Chunks of (origin "file:line", text) for one sentence per line, empty lines kept (as ""). Only "\\n"
    ends a line, as in training (data/parallel.py). Chunks of ``size`` lines, one line at a time when a
    person types at a terminal, so translations stream out as input streams in."""
    from ..data.labeled import input_lines

    if not path and sys.stdin.isatty():
        size = 1
    lines = input_lines(path)
    pending = []
    for number, line in lines:
        pending.append((f"{path or '<stdin>'}:{number}", line.removesuffix("\n").removesuffix("\r").strip()))
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


def plot_attention(weights, source_tokens, target_tokens, path: str, title: str = "") -> None:
    """A heatmap of the attention weights (T, S): one row per output token, one column per source token."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..data.subwords import JOINER

    # word level's joiner "￭" is not in matplotlib's default font: a middle dot marks the attached side
    source_tokens, target_tokens = ([t.replace(JOINER, "\u00b7") for t in tokens]
                                    for tokens in (source_tokens, target_tokens))
    T, S = weights.shape
    fig, ax = plt.subplots(figsize=(min(2 + 0.35 * S, 30), min(1.5 + 0.3 * T, 30)), dpi=100)
    image = ax.imshow(weights.float().numpy(), cmap="Greys", vmin=0, vmax=1, aspect="auto")
    fig.colorbar(image, ax=ax, label="attention weight")
    ax.set_xticks(range(S), labels=source_tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(T), labels=target_tokens, fontsize=8)
    ax.set_xlabel("source tokens")
    ax.set_ylabel("output tokens")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def translate(args) -> int:
    from ..data import DataError
    from ..tasks.decoding import detokenize

    trained, failed = load_run(args, "seq2seq")
    if failed is not None:
        return failed
    try:
        settings = decode_settings(trained, args)
    except ValueError as problem:
        return error(str(problem))
    if args.greedy and args.n_best > 1:
        return error("--greedy finds one hypothesis per sentence; --n-best needs beam search")
    if not args.greedy and args.n_best > settings.beam_size:
        return error(f"--n-best {args.n_best} is more than the beam ({settings.beam_size}); raise --beam-size")
    if args.attention_plot:
        if trained.config.model.attention == "none":
            return error("--attention-plot: this model has no attention (model.attention=none)")
        os.makedirs(args.attention_plot, exist_ok=True)
    path = args.file if args.file and args.file != "-" else None
    start, count, index = time.perf_counter(), 0, 0
    try:
        for chunk in read_chunks(path, args.batch_size * 4):
            found = trained.translate([text for _, text in chunk], settings, args.greedy, args.n_best,
                                      args.batch_size)
            for (origin, text), hypotheses in zip(chunk, found):
                texts = [detokenize(trained.target_vocab, h.tokens) for h in hypotheses]
                if args.n_best > 1:  # Moses' n-best list: the input's index from 0, the hypothesis, its score
                    for hypothesis, output in zip(hypotheses, texts):
                        print(f"{index} ||| {output} ||| {hypothesis.score:.4f}")
                else:
                    print(texts[0])
                best = hypotheses[0]
                if args.attention_plot and best.attention is not None and best.tokens:
                    source_ids = trained.source_vocab.encode(text)
                    plot_attention(best.attention, trained.source_vocab.tokens(source_ids),
                                   trained.target_vocab.tokens(best.tokens),
                                   os.path.join(args.attention_plot, f"{index + 1:05d}.png"), title=origin)
                index += 1
            sys.stdout.flush()
            count += len(chunk)
    except BrokenPipeError:
        raise  # the reader went away (| head): main() ends quietly
    except (DataError, OSError) as problem:
        return error(str(problem))
    if args.verbose:
        elapsed = time.perf_counter() - start
        print(f"[{count:,} sentences in {elapsed:.2f} s: {count / max(elapsed, 1e-9):,.1f} sentences/s, "
              f"{settings.describe(args.greedy)}]", file=sys.stderr)
    return 0
