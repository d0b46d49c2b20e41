"""The training loop on a toy regression model, each behaviour checked against an independent
reference: accumulation against one full-batch step, clipping against the gradient scaled by hand,
divergence before the weights change, early stopping against the weights seen at each evaluation,
reduce-on-plateau against torch's ReduceLROnPlateau, and which checkpoints are kept."""

import copy
import json
import math
import os

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit.training import checkpoint as ckpt
from rnnkit.training import Callback, TrainConfig, Trainer, TrainingDiverged
from rnnkit.training.logs import read_metrics


class Regression(nn.Module):
    """Linear regression; the loss is the mean squared error over the batch."""

    def __init__(self, features=3):
        super().__init__()
        self.linear = nn.Linear(features, 1)

    def loss(self, batch, carry):
        x, y = batch
        return (self.linear(x)[:, 0] - y).square().mean(), y.numel(), carry


class Batches:
    """The data object the trainer expects: ``next() -> (batch, reset)`` over a fixed list, cycled;
    ``reset`` is True at the start of each pass."""

    def __init__(self, batches):
        self.batches, self.position = list(batches), 0

    def next(self):
        index = self.position % len(self.batches)
        self.position += 1
        return self.batches[index], index == 0

    @property
    def epochs(self):
        return self.position / len(self.batches)

    def state(self):
        return {"position": self.position}, {}

    def load_state(self, data, tensors):
        self.position = data["position"]


def regression_data(n=4, features=3, batches=1):
    x = torch.randn(batches * n, features)
    y = torch.randn(batches * n)
    return [(x[i * n:(i + 1) * n], y[i * n:(i + 1) * n]) for i in range(batches)]


def config(**options):
    defaults = dict(optimizer="sgd", lr=0.1, weight_decay=0.0, schedule="constant", clip_norm=0.0, max_steps=1,
                    eval_every=1, tensorboard=False, plot=False)
    return TrainConfig(**{**defaults, **options})


def trainer(tmp_path, model, data, evaluate=None, **options):
    return Trainer(model, data, evaluate or (lambda: {"loss": 1.0}), config(**options), str(tmp_path / "run"))


def records(tmp_path, kind):
    return [r for r in read_metrics(str(tmp_path / "run" / "metrics.jsonl")) if r["kind"] == kind]


def full_batch_gradients(model, batch):
    """The reference gradient: autograd on the whole batch at the model's current weights."""
    loss, _, _ = model.loss(batch, None)
    return loss.item(), torch.autograd.grad(loss, list(model.parameters()))


# --- configuration --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("optimizer", "adam"), ("schedule", "linear"), ("lr", 0.0), ("lr", float("nan")), ("weight_decay", -1.0),
    ("momentum", -0.1), ("clip_norm", -1.0), ("max_epochs", -1.0), ("time_budget", -1.0), ("min_lr_ratio", 1.5),
    ("plateau_factor", 1.0), ("plateau_factor", 0.0), ("accumulate", 0), ("eval_every", 0), ("keep", 0),
    ("log_every", 0), ("warmup_steps", -1), ("max_steps", -1), ("patience", -1), ("checkpoint_every", -1),
    ("threads", -1), ("plateau_patience", -1), ("device", "gpu"), ("device", "cuda:x"),
])
def test_config_rejects_bad_values_naming_the_field(name, value):
    with pytest.raises(ValueError, match=rf"^train\.{name}="):
        TrainConfig(**{"max_steps": 1, name: value})


def test_config_needs_a_limit():
    with pytest.raises(ValueError, match="no limit set"):
        TrainConfig()
    TrainConfig(max_epochs=0.5)
    TrainConfig(time_budget=1.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_missing_gpu_is_an_error_and_auto_falls_back_to_cpu(tmp_path):
    with pytest.raises(ValueError, match=r"train\.device='cuda': CUDA is not available"):
        trainer(tmp_path, Regression(), Batches(regression_data()), device="cuda")
    t = trainer(tmp_path, Regression(), Batches(regression_data()), device="auto")
    assert t.device.type == "cpu" and next(t.model.parameters()).device.type == "cpu"


def test_batches_move_to_the_device_whatever_their_nesting():
    from rnnkit.training.trainer import to_device
    from rnnkit import LSTMState
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), [torch.ones(1)]), "state": LSTMState(torch.ones(1), torch.ones(1)),
             "name": "kept"}
    moved = to_device(batch, torch.device("meta"))
    assert moved["x"].is_meta and moved["pair"][0].is_meta and moved["pair"][1][0].is_meta
    assert isinstance(moved["state"], LSTMState) and moved["state"].c.is_meta and moved["name"] == "kept"


# --- one optimizer step ---------------------------------------------------------------------------

def test_accumulating_two_half_batches_equals_one_full_batch_step(tmp_path):
    (x, y), = regression_data(n=4)
    model = Regression()
    start = copy.deepcopy(model)
    loss, grads = full_batch_gradients(start, (x, y))
    expected = [p.detach() - 0.1 * g for p, g in zip(start.parameters(), grads)]

    full, halves = copy.deepcopy(start), copy.deepcopy(start)
    trainer(tmp_path / "full", full, Batches([(x, y)])).fit()
    trainer(tmp_path / "halves", halves, Batches([(x[:2], y[:2]), (x[2:], y[2:])]), accumulate=2).fit()

    for name, p, e in zip(("weight", "bias"), full.parameters(), expected):
        assert_close(p.detach(), e, msg=lambda m: f"full batch {name}: {m}")
    for name, p, e in zip(("weight", "bias"), halves.parameters(), expected):
        assert_close(p.detach(), e, msg=lambda m: f"accumulated {name}: {m}")
    # the logged loss is the full batch's mean, whichever way it was computed
    assert records(tmp_path / "full", "train")[0]["loss"] == pytest.approx(loss)
    assert records(tmp_path / "halves", "train")[0]["loss"] == pytest.approx(loss)


def test_clipping_scales_the_gradient_to_the_clip_norm(tmp_path):
    batch = regression_data(n=4)[0]
    model = Regression()
    start = copy.deepcopy(model)
    _, grads = full_batch_gradients(start, batch)
    norm = torch.cat([g.flatten() for g in grads]).norm().item()
    clip = norm / 10

    trainer(tmp_path, model, Batches([batch]), lr=1.0, clip_norm=clip).fit()
    update = [p0.detach() - p.detach() for p0, p in zip(start.parameters(), model.parameters())]
    assert_close(torch.cat([u.flatten() for u in update]).norm().item(), clip, rtol=1e-5, atol=0)
    for u, g in zip(update, grads):  # same direction as the unclipped gradient
        assert_close(u, g * (clip / norm), rtol=1e-5, atol=1e-7)
    assert records(tmp_path, "train")[0]["grad_norm"] == pytest.approx(norm)  # the norm before clipping


def test_a_clip_norm_above_the_gradient_norm_changes_nothing(tmp_path):
    batch = regression_data(n=4)[0]
    model = Regression()
    start = copy.deepcopy(model)
    _, grads = full_batch_gradients(start, batch)
    norm = torch.cat([g.flatten() for g in grads]).norm().item()
    trainer(tmp_path, model, Batches([batch]), lr=1.0, clip_norm=norm * 2).fit()
    for p0, p, g in zip(start.parameters(), model.parameters(), grads):
        assert_close(p.detach(), p0.detach() - g)


# --- divergence -----------------------------------------------------------------------------------

class Snapshots(Callback):
    """The weights after every optimizer step, keyed by step."""

    def __init__(self):
        self.weights = {}

    def on_step(self, trainer, record):
        self.weights[trainer.step] = [p.detach().clone() for p in trainer.model.parameters()]


@pytest.mark.parametrize("accumulate", [1, 2])
def test_nan_loss_stops_before_the_weights_change(tmp_path, accumulate):
    good = regression_data(n=2, batches=3)
    bad_x = good[2][0].clone()
    bad_x[0, 0] = float("nan")
    data = Batches(good[:accumulate] + [(bad_x, good[2][1])] + good[:accumulate - 1])
    model = Regression()
    snapshots = Snapshots()
    run = Trainer(model, data, lambda: {"loss": 1.0}, config(optimizer="adamw", max_steps=5, accumulate=accumulate),
                  str(tmp_path / "run"), callbacks=[snapshots])
    with pytest.raises(TrainingDiverged, match="the training loss is nan at step 2"):
        run.fit()
    assert list(snapshots.weights) == [1]
    for p, before in zip(model.parameters(), snapshots.weights[1]):
        assert torch.equal(p.detach(), before)
    assert all(state["step"].item() == 1 for state in run.optimizer.state.values())  # no step taken
    assert [r["step"] for r in records(tmp_path, "train")] == [1]  # the log is closed with what happened


class InfiniteGradient(nn.Module):
    """A finite loss (0) whose gradient is infinite: d sqrt(u) / du at u = 0."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))

    def loss(self, batch, carry):
        return torch.sqrt(self.w - self.w.detach()).sum(), 1, carry


def test_infinite_gradient_stops_before_the_weights_change(tmp_path):
    model = InfiniteGradient()
    with pytest.raises(TrainingDiverged, match="gradient norm is inf at step 1"):
        trainer(tmp_path, model, Batches([None]), optimizer="adamw", clip_norm=1.0).fit()
    assert torch.equal(model.w.detach(), torch.ones(2))
    assert not os.path.exists(tmp_path / "run" / "checkpoints" / "last.json")


# --- carried state --------------------------------------------------------------------------------

class Carrying(Regression):
    """Carries a running count through batches, as a language model carries its hidden state."""

    def __init__(self):
        super().__init__()
        self.received = []

    def loss(self, batch, carry):
        self.received.append(carry)
        loss, n, _ = super().loss(batch, None)
        previous = carry[0] if carry is not None else torch.zeros(())
        return loss, n, (previous + 1 + 0 * loss,)  # in the graph, so it must arrive detached


def test_carry_is_handed_on_detached_and_dropped_at_reset(tmp_path):
    model = Carrying()
    trainer(tmp_path, model, Batches(regression_data(n=2, batches=3)), max_steps=7).fit()
    counts = [None if c is None else int(c[0]) for c in model.received]
    assert counts == [None, 1, 2, None, 1, 2, None]  # reset at every third batch
    assert all(c is None or not c[0].requires_grad for c in model.received)


# --- evaluation, early stopping, schedules --------------------------------------------------------

def scripted(losses, model):
    """An evaluate() returning ``losses`` in turn and keeping the weights it saw at each call."""
    seen = []

    def evaluate():
        seen.append([p.detach().clone() for p in model.parameters()])
        return {"loss": losses[len(seen) - 1]}

    return evaluate, seen


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_with_patience_restores_the_best_weights(tmp_path, restore_best):
    model = Regression()
    evaluate, seen = scripted([3.0, 2.0, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0], model)
    run = Trainer(model, Batches(regression_data(n=2, batches=3)), evaluate,
                  config(optimizer="adamw", max_steps=8, patience=2, restore_best=restore_best),
                  str(tmp_path / "run"))
    summary = run.fit()
    # evaluations after steps 1..4: improved, improved, worse, worse -> stop after the second bad one
    assert len(seen) == 4
    assert summary["steps"] == 4 and summary["stopped_early"]
    assert summary["best_step"] == 2 and summary["best"] == 2.0 and summary["monitor"] == "loss"
    assert summary["best_checkpoint"].endswith("step-00000002")
    expected = seen[1] if restore_best else seen[3]
    for p, e in zip(model.parameters(), expected):
        assert torch.equal(p.detach(), e)
    assert not torch.equal(seen[1][0], seen[3][0])  # the choice above mattered


@pytest.mark.parametrize("monitor, mode", [("accuracy", "auto"), ("macro_f1", "auto"), ("loss", "max")])
def test_a_maximized_monitor_keeps_the_highest_value(tmp_path, monitor, mode):
    model = Regression()
    values = [0.5, 0.8, 0.7, 0.9, 0.6]
    seen = []

    def evaluate():
        seen.append([p.detach().clone() for p in model.parameters()])
        return {"loss": 1.0 - values[len(seen) - 1] if monitor != "loss" else values[len(seen) - 1],
                "accuracy": values[len(seen) - 1], "macro_f1": values[len(seen) - 1]}

    summary = Trainer(model, Batches(regression_data(n=2, batches=3)), evaluate,
                      config(max_steps=5, monitor=monitor, monitor_mode=mode), str(tmp_path / "run")).fit()
    assert summary["best_step"] == 4 and summary["best"] == 0.9 and summary["monitor"] == monitor
    assert summary["best_checkpoint"].endswith("step-00000004")
    for p, e in zip(model.parameters(), seen[3]):
        assert torch.equal(p.detach(), e)
    assert [r["improved"] for r in records(tmp_path, "valid")] == [True, True, False, True, False]


def test_a_monitor_the_evaluation_does_not_report_is_an_error(tmp_path):
    model = Regression()
    run = Trainer(model, Batches(regression_data()), lambda: {"loss": 1.0}, config(max_steps=2, monitor="accuracy"),
                  str(tmp_path / "run"))
    with pytest.raises(ValueError, match=r"train.monitor='accuracy' is not among the evaluation's metrics \['loss'\]"):
        run.fit()
    with pytest.raises(ValueError, match="train.monitor_mode='up'"):
        config(monitor_mode="up")


def test_no_patience_runs_to_the_limit(tmp_path):
    model = Regression()
    evaluate, seen = scripted([float(i) for i in range(1, 7)], model)  # always worse
    summary = Trainer(model, Batches(regression_data()), evaluate, config(max_steps=6),
                      str(tmp_path / "run")).fit()
    assert summary["steps"] == 6 and not summary["stopped_early"] and len(seen) == 6


def test_eval_every_and_a_last_evaluation_at_the_end(tmp_path):
    model = Regression()
    evaluate, seen = scripted([5.0, 4.0, 3.0, 2.0], model)
    steps = []

    def evaluate_and_note_the_step():
        steps.append(run.step)
        return evaluate()

    run = Trainer(model, Batches(regression_data()), evaluate_and_note_the_step, config(max_steps=7, eval_every=3),
                  str(tmp_path / "run"))
    run.fit()
    assert steps == [3, 6, 7]
    assert [(r["step"], r["loss"]) for r in records(tmp_path, "valid")] == [(3, 5.0), (6, 4.0), (7, 3.0)]
    assert [r["step"] for r in records(tmp_path, "train")] == list(range(1, 8))


def test_plateau_schedule_follows_torch_reduce_lr_on_plateau(tmp_path):
    losses = [4.0, 3.0, 3.5, 3.5, 3.5, 2.0, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5]
    lr, factor, patience, min_ratio = 0.05, 0.5, 1, 0.2
    model = Regression()
    evaluate, _ = scripted(losses, model)
    Trainer(model, Batches(regression_data()), evaluate,
            config(lr=lr, schedule="plateau", plateau_factor=factor, plateau_patience=patience,
                   min_lr_ratio=min_ratio, max_steps=len(losses)), str(tmp_path / "run")).fit()

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=factor, patience=patience,
                                                           min_lr=lr * min_ratio)
    expected = [lr]  # the lr of step s + 1 follows the evaluation after step s
    for loss in losses[:-1]:
        reference.step(loss)
        expected.append(optimizer.param_groups[0]["lr"])
    assert [r["lr"] for r in records(tmp_path, "train")] == pytest.approx(expected)
    assert min(expected) < lr * factor  # the schedule did reduce, more than once


def test_warmup_then_cosine_learning_rates(tmp_path):
    lr, warmup, steps, min_ratio = 0.1, 3, 10, 0.1
    Trainer(Regression(), Batches(regression_data()), lambda: {"loss": 1.0},
            config(lr=lr, schedule="cosine", warmup_steps=warmup, min_lr_ratio=min_ratio, max_steps=steps,
                   eval_every=100), str(tmp_path / "run")).fit()
    expected = []
    for step in range(1, steps + 1):  # step s runs at progress (s - 1) / steps
        ramp = min(1.0, step / warmup)
        cosine = min_ratio + (1 - min_ratio) * (1 + math.cos(math.pi * (step - 1) / steps)) / 2
        expected.append(lr * ramp * cosine)
    assert [r["lr"] for r in records(tmp_path, "train")] == pytest.approx(expected)


def test_max_epochs_counts_micro_batches(tmp_path):
    data = Batches(regression_data(n=2, batches=4))
    summary = trainer(tmp_path, Regression(), data, max_steps=0, max_epochs=1.5, accumulate=2).fit()
    assert data.position == 6 and summary["steps"] == 3


# --- checkpoints ----------------------------------------------------------------------------------

class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_start(self, trainer):
        self.calls.append(("start", trainer.step))

    def on_eval(self, trainer, record):
        self.calls.append(("eval", record["step"]))

    def on_checkpoint(self, trainer, path):
        self.calls.append(("checkpoint", os.path.basename(path)))

    def on_end(self, trainer, summary):
        self.calls.append(("end", summary["steps"]))


def test_checkpoint_every_keeps_the_newest_and_the_best(tmp_path):
    model = Regression()
    evaluate, seen = scripted([1.0, 2.0, 3.0], model)  # the first evaluation (step 2) stays the best
    recorder = Recorder()
    run = Trainer(model, Batches(regression_data()), evaluate,
                  config(max_steps=6, eval_every=2, checkpoint_every=1, keep=2), str(tmp_path / "run"),
                  callbacks=[recorder])
    summary = run.fit()
    directory = str(tmp_path / "run" / "checkpoints")
    assert sorted(n for n in os.listdir(directory) if n.startswith("step-")) == \
        ["step-00000002", "step-00000005", "step-00000006"]
    assert ckpt.read_pointer(directory, "last") == os.path.join(directory, "step-00000006")
    assert ckpt.read_pointer(directory, "best") == os.path.join(directory, "step-00000002")
    assert summary["last_checkpoint"].endswith("step-00000006")
    assert [c for c in recorder.calls if c[0] == "checkpoint"] == \
        [("checkpoint", f"step-{s:08d}") for s in range(1, 7)]
    assert recorder.calls[0] == ("start", 0) and recorder.calls[-1] == ("end", 6)
    # each checkpoint holds the weights of its step: the best one those the evaluation at step 2 saw
    best = Regression()
    ckpt.load_model_weights(os.path.join(directory, "step-00000002"), best)
    for p, e in zip(best.parameters(), seen[0]):
        assert torch.equal(p.detach(), e)
    meta = ckpt.read_meta(os.path.join(directory, "step-00000006"))
    assert meta["step"] == 6 and meta["data"] == {"position": 6}
    assert meta["early_stopping"]["best_step"] == 2


def test_checkpoints_default_to_each_evaluation(tmp_path):
    trainer(tmp_path, Regression(), Batches(regression_data()), max_steps=5, eval_every=2, keep=10).fit()
    directory = tmp_path / "run" / "checkpoints"
    assert sorted(n for n in os.listdir(directory) if n.startswith("step-")) == \
        ["step-00000002", "step-00000004", "step-00000005"]


def test_trainer_meta_is_saved_with_every_checkpoint(tmp_path):
    run = Trainer(Regression(), Batches(regression_data()), lambda: {"loss": 1.0}, config(max_steps=2),
                  str(tmp_path / "run"), meta={"config": {"model": {"hidden_size": 3}}, "task": "toy"})
    summary = run.fit()
    meta = ckpt.read_meta(summary["last_checkpoint"])
    assert meta["config"] == {"model": {"hidden_size": 3}} and meta["task"] == "toy"
    assert json.loads(json.dumps(meta)) == meta


def test_plot_and_tensorboard_files(tmp_path):
    pytest.importorskip("tensorboard")
    pytest.importorskip("matplotlib")
    trainer(tmp_path, Regression(), Batches(regression_data()), max_steps=3, tensorboard=True, plot=True).fit()
    with open(tmp_path / "run" / "loss.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    events = os.listdir(tmp_path / "run" / "tensorboard")
    assert any(name.startswith("events.out.tfevents") for name in events)
