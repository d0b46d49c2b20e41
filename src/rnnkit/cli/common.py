"""What every verb shares: exit codes, error lines, and notes about the input."""

import sys

EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 3, 130


def error(message: str) -> int:
    print(f"rnnkit: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def report_skipped(skipped: dict) -> None:
    for path, counts in skipped.items():
        if counts:
            shown = ", ".join(f"{kind} x{n}" for kind, n in counts.most_common())
            print(f"rnnkit: note: {path}: {sum(counts.values())} rows skipped ({shown})", file=sys.stderr)


def report_unknown(unknown, what: str) -> None:
    if unknown:
        shown = ", ".join(f"{s!r} x{n}" for s, n in unknown.most_common(10))
        print(f"rnnkit: note: {sum(unknown.values())} {what} not in the model's vocabulary "
              f"({shown}{', ...' if len(unknown) > 10 else ''})", file=sys.stderr)
