"""The user's guide lists every configuration key a user can set, and the parts of it that list what
the code declares (the layer's options with every task's defaults, the cell kinds, the paths and
backends, each task's recurrent defaults) are made from the code (rnnkit/docs.py) and current: a key
added to a config without a line on its task's page, or a table left stale, fails here."""

import dataclasses
import os
import typing

import pytest

from rnnkit import docs
from rnnkit.layers import BACKENDS, KINDS, PATHS
from rnnkit.tasks import TASKS
from rnnkit.training import TrainConfig

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs")


def page(name: str) -> str:
    with open(os.path.join(DOCS, name), encoding="utf-8") as f:
        return f.read()


def sections(task):
    """The config dataclasses of a task's RunConfig (data, model, decode, backtest ...), but train."""
    hints = typing.get_type_hints(task.RunConfig)
    return [hints[f.name] for f in dataclasses.fields(task.RunConfig) if f.name != "train"]


@pytest.mark.parametrize("name", TASKS)
def test_every_key_of_a_task_is_on_its_page(name):
    text = page(TASKS[name].DOCS)
    for config in sections(TASKS[name]):
        missing = [f.name for f in dataclasses.fields(config) if f"`{f.name}`" not in text]
        assert not missing, f"docs/{TASKS[name].DOCS} does not document {config.__name__} keys {missing}"


def test_every_training_key_is_documented():
    text = page("language-modeling.md")
    missing = [f.name for f in dataclasses.fields(TrainConfig) if f"`{f.name}`" not in text]
    assert not missing, f"docs/language-modeling.md does not document TrainConfig keys {missing}"


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(DOCS) if n.endswith(".md")))
def test_generated_parts_are_current(name):
    text = page(name)
    assert docs.render(text, docs.blocks()) == text, f"docs/{name} is stale: run `python -m rnnkit.docs`"


def test_every_generated_part_has_its_place():
    found = {m.group("name") for name in os.listdir(DOCS) if name.endswith(".md")
             for m in docs.MARKER.finditer(page(name))}
    assert found == set(docs.blocks())
    for task in TASKS.values():
        assert f"generated: recurrent defaults {task.NAME} " in page(task.DOCS)


def test_the_generated_tables_name_every_cell_path_and_backend():
    cells = page("cells.md")
    for name in [*KINDS, *PATHS]:
        assert f"| `{name}` |" in cells, name
    for name in BACKENDS:
        assert f"`{name}`" in cells.split("generated: paths")[1], name


def test_a_part_the_code_does_not_make_is_an_error():
    with pytest.raises(KeyError):
        docs.render("<!-- generated: nonsense (python -m rnnkit.docs) -->\n<!-- end generated -->", docs.blocks())


def test_a_stale_table_is_caught():
    text = page("cells.md").replace("| `gru` |", "| `gru ` |", 1)
    assert docs.render(text, docs.blocks()) != text
