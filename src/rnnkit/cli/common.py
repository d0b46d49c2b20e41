"""What every verb shares: error lines, notes about the input, loading the run a verb works on."""

import sys

from ..errors import EXIT_BAD_INPUT


def error(message: str) -> int:
    print(f"rnnkit: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def note(message: str) -> None:
    print(f"rnnkit: note: {message}", file=sys.stderr)


def report_skipped(skipped: dict) -> None:
    from ..tasks.contract import skipped_notes

    for line in skipped_notes(skipped):
        note(line)


def report_unknown(unknown, what: str) -> None:
    from ..tasks.contract import unknown_note

    for line in unknown_note(unknown, what):
        note(line)


def load_run(args, task: str):
    """(the trained run of ``task`` in args.run_dir at args.checkpoint, None); or (None, the exit code)
    once the error is printed. A run of another task is refused with the verb that fits it."""
    from ..tasks import TASKS
    from ..tasks.runs import run_task
    from ..training.checkpoint import CheckpointError

    module = TASKS[task]
    try:
        kind = run_task(args.run_dir)
        if kind != task:
            fits = f"; for a {kind!r} run, `rnnkit {TASKS[kind].VERB}`" if kind in TASKS else ""
            return None, error(f"{args.run_dir}: `rnnkit {module.VERB}` is for {module.RUNS} runs "
                               f"(rnnkit train {task}){fits}")
        return module.load_trained(args.run_dir, args.checkpoint), None
    except (CheckpointError, FileNotFoundError) as problem:
        return None, error(str(problem))

