"""The parts of docs/ that list what the code declares, made from the code so that they cannot go stale:
the recurrent layer's options with every task's defaults, the cell kinds, the paths, and each task
page's line on its recurrent defaults. In the pages each part stands between

    <!-- generated: NAME (python -m rnnkit.docs) -->
    ...
    <!-- end generated -->

``python -m rnnkit.docs [DOCS_DIR]`` rewrites them in place; tests/test_docs.py fails when one differs
from what the code says now.
"""

import dataclasses
import os
import re
import sys
import typing
from typing import Dict

from .layers import BACKENDS, KINDS, PATHS, RecurrentConfig, RecurrentOptions
from .layers.kinds import cells_reading
from .tasks import TASKS

MARKER = re.compile(r"(<!-- generated: (?P<name>[^(]+?) \(python -m rnnkit\.docs\) -->\n)(?P<body>.*?)"
                    r"(<!-- end generated -->)", re.S)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def model_config(task):
    """The task's model config class (its RunConfig's ``model`` section)."""
    return typing.get_type_hints(task.RunConfig)["model"]


def options_table() -> str:
    names = RecurrentOptions.option_names()
    fields = {f.name: f for f in dataclasses.fields(RecurrentOptions)}
    defaults = {task: {f.name: f.default for f in dataclasses.fields(model_config(module))}
                for task, module in TASKS.items()}
    lines = ["| key | cells | layer | " + " | ".join(TASKS) + " | meaning |", "|---" * (len(TASKS) + 4) + "|"]
    for name in names:
        cells = cells_reading(name)
        shown = "all" if len(cells) == len(KINDS) else ", ".join(cells)
        values = " | ".join(f"`{_value(defaults[task][name])}`" for task in TASKS)
        layer = "required" if name == "hidden_size" else f"`{_value(fields[name].default)}`"
        lines.append(f"| `{name}` | {shown} | {layer} | {values} | {fields[name].metadata['help']} |")
    extra = [f for f in dataclasses.fields(RecurrentConfig) if f.name not in names]
    lines.append("")
    lines.append("The layer (`RecurrentConfig`, `LSTM(...)`, `GRU(...)`, `RNN(...)`) has two more keys, which a task's "
                 "model sets itself: " + "; ".join(f"`{f.name}` ({f.metadata.get('help', 'D, the input features per step')})"
                                                   for f in extra) + ".")
    return "\n".join(lines)


def cells_table() -> str:
    lines = ["| cell | its own options | torch's fused kernel | C++ scan |", "|---|---|---|---|"]
    for name, kind in KINDS.items():
        own = ", ".join(f"`{o}`" for o in kind.options) or "-"
        fused = f"`torch._VF.{kind.torch_mode.lower()}` ({kind.cpu_kernel} on a CPU, cuDNN on CUDA)" if kind.torch_mode \
            else "none"
        native = "none" if kind.native is None else "yes" + (
            f", without {', '.join(f'`{o}`' for o in kind.native.lacks)}" if kind.native.lacks else "")
        lines.append(f"| `{name}` | {own} | {fused} | {native} |")
    return "\n".join(lines)


def paths_table() -> str:
    lines = ["| path | what runs |", "|---|---|"] + [f"| `{name}` | {text} |" for name, text in PATHS.items()]
    lines.append("")
    lines.append("`backend` takes " + ", ".join(f"`{b}`" for b in BACKENDS) + ": `auto` (the default) picks the "
                 "fastest path that computes exactly the layer's equations; any other value forces that path, and "
                 "one that cannot run the configuration is refused with the reason.")
    return "\n".join(lines)


def task_defaults(name: str) -> str:
    config = model_config(TASKS[name])
    base = {f.name: f.default for f in dataclasses.fields(RecurrentOptions)}
    changed = [f"`{f.name}` {_value(f.default)}" for f in dataclasses.fields(config)
               if f.name in base and f.default != base[f.name]]
    keys = ", ".join(f"`{n}`" for n in RecurrentOptions.option_names())
    return (f"The recurrent layer's options are the same `model.*` keys in every task ({keys}); what each does, "
            f"and every task's defaults: [docs/cells.md](cells.md#the-layers-options). This task's own defaults: "
            f"{', '.join(changed) or 'none'}.")


def blocks() -> Dict[str, str]:
    """Every generated part, by the name its marker gives."""
    made = {"recurrent options": options_table(), "cell kinds": cells_table(), "paths": paths_table()}
    made.update({f"recurrent defaults {name}": task_defaults(name) for name in TASKS})
    return made


def render(text: str, made: Dict[str, str]) -> str:
    """``text`` with every marked part replaced by what the code says now (KeyError for an unknown name)."""
    return MARKER.sub(lambda m: m.group(1) + made[m.group("name")] + "\n" + m.group(4), text)


def main(argv=None) -> int:
    directory = (argv or sys.argv[1:] or [os.path.join(os.path.dirname(__file__), "..", "..", "docs")])[0]
    made = blocks()
    for page in sorted(os.listdir(directory)):
        if not page.endswith(".md"):
            continue
        path = os.path.join(directory, page)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new = render(text, made)
        if new != text:
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(new)
            os.replace(path + ".tmp", path)
            print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
