"""Checkpoints as data: atomic directories of safetensors + JSON, pointer files, pruning, and an
optimizer split into tensors + JSON that, restored, takes bit-identical next steps."""

import json
import os

import pytest
import torch
from torch import nn

from rnnkit.training import checkpoint as ckpt


def small_model():
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_save_and_load_round_trip(tmp_path):
    model = small_model()
    tensors = {"rng.torch": torch.get_rng_state(), "carry.0": torch.randn(2, 3).t()}  # not contiguous
    path = ckpt.save_checkpoint(str(tmp_path), "step-00000003", model, tensors, {"step": 3, "vocab": ["a", "b"]})
    assert path == os.path.join(str(tmp_path), "step-00000003")
    assert sorted(os.listdir(path)) == sorted([ckpt.MODEL_FILE, ckpt.TRAIN_FILE, ckpt.META_FILE])
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]

    other = small_model()
    assert not torch.equal(other[0].weight, model[0].weight)
    ckpt.load_model_weights(path, other)
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    loaded = ckpt.load_train_tensors(path)
    assert loaded.keys() == tensors.keys()
    for key in tensors:
        assert torch.equal(loaded[key], tensors[key])
    meta = ckpt.read_meta(path)
    assert meta["step"] == 3 and meta["vocab"] == ["a", "b"]


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path):
    def tied():
        model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5))
        model[1].weight = model[0].weight
        return model

    model = tied()
    path = ckpt.save_checkpoint(str(tmp_path), "step-00000001", model, {}, {})
    other = tied()
    ckpt.load_model_weights(path, other)
    assert other[1].weight is other[0].weight
    assert torch.equal(other[0].weight, model[0].weight) and torch.equal(other[1].bias, model[1].bias)


def test_parameters_that_are_views_of_one_buffer_save_and_load(tmp_path):
    """cuDNN's layout on a GPU (layers/recurrent.py flatten_parameters): every parameter a view of one
    buffer. safetensors refuses shared storage; each is saved on its own and loads back in place."""
    def viewed():
        model, buffer = small_model(), torch.zeros(sum(p.numel() for p in small_model().parameters()))
        offset = 0
        for p in model.parameters():
            buffer[offset:offset + p.numel()] = p.detach().reshape(-1)
            p.data = buffer[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        return model

    model = viewed()
    path = ckpt.save_checkpoint(str(tmp_path), "step-00000001", model, {}, {})
    other = viewed()
    storage = other[0].weight.untyped_storage().data_ptr()
    ckpt.load_model_weights(path, other)
    assert other[2].bias.untyped_storage().data_ptr() == storage  # still views of the one buffer
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("other, match", [
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Linear(2, 2)), r"missing \['3.bias', '3.weight'\]"),
    (nn.Sequential(nn.Linear(3, 4)), r"unexpected \['2.bias', '2.weight'\]"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)), r"2.weight is torch.float32 \(2, 4\), the model's "
                                                                 r"is torch.float32 \(3, 4\)"),
], ids=["missing", "unexpected", "shape"])
def test_weights_that_do_not_fit_are_a_checkpoint_error(tmp_path, other, match):
    path = ckpt.save_checkpoint(str(tmp_path), "step-00000001", small_model(), {}, {})
    with pytest.raises(ckpt.CheckpointError, match=match):
        ckpt.load_model_weights(path, other)


def test_saving_the_same_step_again_replaces_it_and_clears_leftovers(tmp_path):
    directory = str(tmp_path)
    ckpt.save_checkpoint(directory, "step-00000002", small_model(), {}, {"run": 1})
    os.makedirs(os.path.join(directory, "step-00000004.tmp"))  # a write that was killed
    model = small_model()
    path = ckpt.save_checkpoint(directory, "step-00000002", model, {}, {"run": 2})
    assert ckpt.read_meta(path)["run"] == 2
    assert sorted(os.listdir(directory)) == ["step-00000002"]
    other = small_model()
    ckpt.load_model_weights(path, other)
    assert torch.equal(other[2].weight, model[2].weight)


def test_read_meta_rejects_other_formats(tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="not a checkpoint"):
        ckpt.read_meta(str(tmp_path))
    path = ckpt.save_checkpoint(str(tmp_path), "step-00000001", small_model(), {}, {})
    meta_path = os.path.join(path, ckpt.META_FILE)
    with open(meta_path) as f:
        meta = json.load(f)
    meta["version"] = ckpt.VERSION + 1
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    with pytest.raises(ckpt.CheckpointError, match="version"):
        ckpt.read_meta(path)


def test_pointers(tmp_path):
    directory = str(tmp_path)
    assert ckpt.read_pointer(directory, "last") is None
    a = ckpt.save_checkpoint(directory, "step-00000001", small_model(), {}, {})
    b = ckpt.save_checkpoint(directory, "step-00000002", small_model(), {}, {})
    ckpt.set_pointer(directory, "best", a)
    ckpt.set_pointer(directory, "last", a)
    ckpt.set_pointer(directory, "last", b)
    assert ckpt.read_pointer(directory, "last") == b
    assert ckpt.read_pointer(directory, "best") == a
    assert not [n for n in os.listdir(directory) if n.startswith(".tmp")]  # the atomic writes left nothing


def test_write_json_atomic_keeps_the_old_file_when_the_write_fails(tmp_path):
    path = str(tmp_path / "last.json")
    ckpt.write_json_atomic(path, {"checkpoint": "step-1"})
    with pytest.raises(TypeError):
        ckpt.write_json_atomic(path, {"checkpoint": object()})
    with open(path) as f:
        assert json.load(f) == {"checkpoint": "step-1"}
    assert os.listdir(tmp_path) == ["last.json"]


def test_prune_keeps_the_newest_and_the_protected(tmp_path):
    directory = str(tmp_path)
    names = [f"step-{s:08d}" for s in (1, 2, 9, 10, 100)]  # numeric order = name order with zero padding
    for name in names:
        os.makedirs(os.path.join(directory, name))
    os.makedirs(os.path.join(directory, "other"))
    ckpt.prune(directory, keep=2, protect=(os.path.join(directory, names[1]), None))
    assert sorted(os.listdir(directory)) == sorted([names[1], names[3], names[4], "other"])


def sgd_momentum(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)


def adamw(params):
    return torch.optim.AdamW(params, lr=0.01, betas=(0.8, 0.95), weight_decay=0.1)


def sgd_plain(params):
    return torch.optim.SGD(params, lr=0.1)


def train_step(model, optimizer, x):
    optimizer.zero_grad()
    model(x).square().mean().backward()
    optimizer.step()


@pytest.mark.parametrize("make_optimizer", [adamw, sgd_momentum, sgd_plain])
def test_restored_optimizer_takes_bit_identical_steps(tmp_path, make_optimizer):
    model = small_model()
    optimizer = make_optimizer(model.parameters())
    xs = torch.randn(5, 6, 3)
    for x in xs[:2]:
        train_step(model, optimizer, x)

    tensors, data = ckpt.optimizer_to_checkpoint(optimizer)
    path = ckpt.save_checkpoint(str(tmp_path), "step-00000002", model, tensors, {"optimizer": data})

    copy = small_model()
    ckpt.load_model_weights(path, copy)
    copy_optimizer = make_optimizer(copy.parameters())
    for group in copy_optimizer.param_groups:  # the checkpoint's hyperparameters must win
        group["lr"] = 123.0
    ckpt.optimizer_from_checkpoint(copy_optimizer, ckpt.load_train_tensors(path), ckpt.read_meta(path)["optimizer"])

    for x in xs[2:]:
        train_step(model, optimizer, x)
        train_step(copy, copy_optimizer, x)
        for (name, a), b in zip(model.named_parameters(), copy.parameters()):
            assert torch.equal(a, b), name


def test_json_files_are_written_with_the_umask_s_mode_not_private(tmp_path):
    """report.json, pointers and exports are read by others (a server, a deployment): mkstemp's 0600
    must not stick to them."""
    old = os.umask(0o022)
    try:
        ckpt.write_json_atomic(str(tmp_path / "report.json"), {"f1": 0.9})
    finally:
        os.umask(old)
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == 0o644
