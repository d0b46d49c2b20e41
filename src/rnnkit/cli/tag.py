"""`rnnkit tag`: a trained sequence tagger's tags (and spans) for CoNLL files, JSON lines or plain text."""

import dataclasses
import sys
import time

from .common import error, load_run


def sniff_tag_input(path: str) -> str:
    """conll when the first lines look like columns (or -DOCSTART-), jsonl by the name, else text."""
    from ..data.conll import detect_format

    if detect_format(path) == "jsonl":
        return "jsonl"
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        counts = [len(line.split()) for _, line in zip(range(50), f) if line.strip()]
    if counts and (min(counts) >= 2 and len(set(counts)) == 1):
        return "conll"
    return "text"


def tag(args) -> int:
    from ..data import DataError
    from ..data.labeled import input_lines
    from ..data.schemes import spans
    from ..tasks.classification import dumps
    from ..tasks.tagging import read

    trained, failed = load_run(args, "tag")
    if failed is not None:
        return failed
    path = args.file if args.file and args.file != "-" else None
    kind = args.input if args.input != "auto" else (sniff_tag_input(path) if path else "text")
    start, tokens_tagged = time.perf_counter(), 0
    try:
        if kind in ("conll", "jsonl"):
            if path is None:
                return error(f"--input {kind} needs a FILE")
            data = trained.config.data
            sentences = read(path, dataclasses.replace(data, format=kind, token_column=args.token_column),
                             tags=False)
            tags = trained.tag(sentences.tokens, args.batch_size)
            tokens_tagged = sum(map(len, sentences.tokens))
            if kind == "jsonl" or args.json:
                for tokens, sentence_tags in zip(sentences.tokens, tags):
                    found = [{"type": k, "start": a, "end": b, "text": " ".join(tokens[a:b])}
                             for k, a, b in spans(sentence_tags)]
                    print(dumps({"tokens": tokens, "tags": sentence_tags, "spans": found}))
            else:
                write_conll_with_tags(path, sentences, tags)
        else:
            chunk_size = 1 if path is None and sys.stdin.isatty() else args.batch_size * 4
            chunk = []
            for _, line in input_lines(path):
                chunk.append(line.rstrip("\r\n"))
                if len(chunk) >= chunk_size:
                    tokens_tagged += tag_text_lines(trained, chunk, args)
                    chunk = []
            if chunk:
                tokens_tagged += tag_text_lines(trained, chunk, args)
    except BrokenPipeError:
        raise  # the reader went away (| head): main() ends quietly
    except (DataError, OSError) as problem:
        return error(str(problem))
    if args.verbose:
        elapsed = time.perf_counter() - start
        print(f"[{tokens_tagged:,} tokens in {elapsed:.2f} s: {tokens_tagged / max(elapsed, 1e-9):,.0f} tokens/s]",
              file=sys.stderr)
    return 0


def tag_text_lines(trained, lines, args) -> int:
    """Tag lines of plain text (one sentence each); returns the number of tokens tagged."""
    from ..data.schemes import spans
    from ..tasks.classification import dumps
    from ..tasks.tagging import tokenize

    tokenized = [tokenize(line) for line in lines]
    nonempty = [i for i, (tokens, _) in enumerate(tokenized) if tokens]
    tags = dict(zip(nonempty, trained.tag([tokenized[i][0] for i in nonempty], args.batch_size)))
    for i, line in enumerate(lines):
        tokens, offsets = tokenized[i]
        sentence_tags = tags.get(i, [])
        if args.json:
            found = [{"type": k, "start": offsets[a][0], "end": offsets[b - 1][1],
                      "text": line[offsets[a][0]:offsets[b - 1][1]]} for k, a, b in spans(sentence_tags)]
            print(dumps({"text": line, "spans": found}))
        else:
            print("\n".join(f"{t} {g}" for t, g in zip(tokens, sentence_tags)) + "\n")
    sys.stdout.flush()
    return sum(len(t) for t, _ in tokenized)


def write_conll_with_tags(path, sentences, tags) -> None:
    """The CoNLL file as it is, with the predicted tag appended to every token line."""
    from ..data.labeled import open_text

    sentence, position = -1, 0
    with open_text(path) as f:
        previous_blank = True
        for line in f:
            line = line.rstrip("\r\n")
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                print(line)
                previous_blank = True
                continue
            if previous_blank:
                sentence, position = sentence + 1, 0
                previous_blank = False
            print(f"{line} {tags[sentence][position]}")
            position += 1
