"""The tasks' own options on a verb's parser, read from the task registry (tasks/contract.py): a flag
several tasks declare is one option whose help lists each task's meaning; after parsing, the run's
task takes the values of its flags, and the verb refuses a flag only other tasks declare, naming them."""

import argparse
from typing import Dict, List, Tuple

from ..tasks import TASKS


def declared(attribute: str) -> Dict[str, List[Tuple[str, object]]]:
    """Flag name -> [(task name, Flag)] over every task, for TRAIN_FLAGS or EVALUATE_FLAGS."""
    found: Dict[str, list] = {}
    for name, module in TASKS.items():
        for flag in getattr(module, attribute):
            found.setdefault(flag.name, []).append((name, flag))
    return found


def add_task_flags(parser: argparse.ArgumentParser, attribute: str) -> None:
    for name, owners in declared(attribute).items():
        flag = owners[0][1]
        help = " ".join(f"{task}: {f.help}." for task, f in owners)
        if flag.switch:
            parser.add_argument(name, action="store_true", help=help)
            continue
        kinds = {(f.type, f.choices) for _, f in owners}
        assert len(kinds) == 1, f"{name}: the tasks declare it with different types"
        options = {"type": flag.type, "metavar": "|".join(dict.fromkeys(f.metavar for _, f in owners if f.metavar))
                   or None, "help": help, "choices": flag.choices}
        if any(f.repeat for _, f in owners):
            options["action"] = "append"
        elif any(f.many for _, f in owners):
            options["nargs"] = "+"
        parser.add_argument(name, **options)


def task_values(args, task: str, attribute: str) -> Tuple[dict, Dict[str, List[str]]]:
    """({flag.dest: value} of the flags ``task`` declares and the user gave, {flag name: the tasks that
    take it} for the flags given that only other tasks take). A ValueError names a single-valued flag
    given several times."""
    own = {flag.name: flag for flag in getattr(TASKS[task], attribute)}
    values, foreign = {}, {}
    for name, owners in declared(attribute).items():
        value = getattr(args, owners[0][1].option)
        if value is None or value is False:
            continue
        if name not in own:
            foreign[name] = [t for t, _ in owners]
            continue
        flag = own[name]
        if isinstance(value, list) and not (flag.repeat or flag.many):
            if len(value) > 1:
                raise ValueError(f"{name}: one {flag.metavar or 'value'}, got {len(value)}")
            value = value[0]
        values[flag.dest] = value
    return values, foreign
