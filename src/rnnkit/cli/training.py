"""`rnnkit train TASK` and `rnnkit resume RUN_DIR`: build a task, run the Trainer, print the summary."""

import os
import shutil
import sys

from ..errors import EXIT_DIVERGED, EXIT_INTERRUPTED
from .common import error, note, report_skipped
from .progress import ProgressBar


def run_training(task_module, task, run_dir: str, checkpoint, quiet: bool) -> int:
    from ..training import TrainingDiverged

    trainer = task.trainer(run_dir, callbacks=[ProgressBar(quiet, task_module.format_eval, task_module.RATE)])
    if checkpoint:
        trainer.load(checkpoint)
    try:
        summary = trainer.fit()
    except TrainingDiverged as problem:
        from ..training.checkpoint import read_pointer

        last = read_pointer(os.path.join(run_dir, "checkpoints"), "last")
        print(f"rnnkit: training stopped: {problem}. "
              + (f"The last good checkpoint is {last}." if last else "No checkpoint was written before it."),
              file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt:
        print(f"\nrnnkit: interrupted; `rnnkit resume {run_dir}` continues from the last checkpoint",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    monitor, best = summary["monitor"], summary["best"]
    print(f"done: {summary['steps']} steps in {summary['elapsed']:.0f} s; best valid {monitor} {best:.4f} "
          f"at step {summary['best_step']}{', stopped early' if summary['stopped_early'] else ''}")
    for line in task_module.finish(task, run_dir, summary):
        print(line)
    print(f"run: {run_dir} (best checkpoint {os.path.basename(summary['best_checkpoint'] or '-')}, "
          f"metrics.jsonl, tensorboard/, loss.png)")
    return 0


def read_config(args):
    """The run config `rnnkit train` builds from its arguments: defaults < --config files < the task's
    own flags < --set. A ConfigError (or a ValueError for a misused flag) says what is wrong."""
    from ..tasks import TASKS
    from ..training import resolve
    from .flags import task_values

    data, foreign = task_values(args, args.task, "TRAIN_FLAGS")
    if foreign:
        flag, tasks = next(iter(foreign.items()))
        raise ValueError(f"{flag} is for {' or '.join(f'`rnnkit train {t}`' for t in tasks)}")
    return resolve(TASKS[args.task].RunConfig, flags={"data": data} if data else {}, files=args.config or [],
                   overrides=args.set or [])


def train(args) -> int:
    from ..data import DataError
    from ..tasks import TASKS
    from ..tasks.runs import save_run_config

    task_module = TASKS[args.task]
    try:
        config = read_config(args)
    except ValueError as problem:  # a ConfigError too
        return error(str(problem))
    run_dir = args.out
    if os.path.exists(run_dir) and os.listdir(run_dir):
        if not args.force:
            return error(f"{run_dir} is not empty: `rnnkit resume {run_dir}` continues a run there, "
                          "--force starts a new one in its place")
        if not os.path.exists(os.path.join(run_dir, "config.yaml")):
            return error(f"{run_dir}: --force only replaces an rnnkit run directory (one with config.yaml)")
        shutil.rmtree(run_dir)
    try:
        task = task_module.Task(config)
    except (DataError, FileNotFoundError, ValueError) as problem:
        return error(str(problem))
    save_run_config(run_dir, task_module.NAME, task.config)  # the task may settle a value (E from the vectors)
    if not args.quiet:
        print(task.describe(), file=sys.stderr)
        for line in getattr(task, "notes", ()):
            note(line)
        report_skipped(getattr(task, "skipped", {}))
    return run_training(task_module, task, run_dir, None, args.quiet)


def resume(args) -> int:
    from ..data import DataError
    from ..tasks import TASKS
    from ..tasks.runs import read_run_config, resume as resume_run
    from ..training.checkpoint import CheckpointError

    try:
        name = read_run_config(args.run_dir)["task"]
        if name not in TASKS:
            return error(f"{args.run_dir}: a run of task {name!r}, which this rnnkit does not know")
        task, checkpoint, passed_over = resume_run(args.run_dir, TASKS[name])
    except (DataError, CheckpointError, FileNotFoundError, ValueError) as problem:
        return error(str(problem))
    for problem in passed_over:
        note(f"{problem}: passed over")
    if passed_over:
        note(f"resuming from {checkpoint or 'the start (no whole checkpoint)'}")
    return run_training(TASKS[name], task, args.run_dir, checkpoint, args.quiet)
