"""Device plumbing without a GPU: what a CUDA trial relies on, checked on the CPU.

CI has no GPU, so these tests pin down the parts that differ on one: checkpoints are loaded onto
the CPU first (map_location) and then into a model on any device; the input-noise stream does not
depend on the device; and the fused CPU kernel is never asked to run on a non-CPU tensor.
"""

from __future__ import annotations

import pytest
import torch

from lstm_odyssey.models import fast_lstm
from lstm_odyssey.models.implementations import resolve_implementation
from lstm_odyssey.training import trial as trial_module
from lstm_odyssey.training.checkpoint import load_checkpoint, save_checkpoint
from lstm_odyssey.training.trial import resolve_device


def test_auto_device_is_cuda_only_where_torch_sees_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_a_checkpoint_is_read_onto_the_cpu_and_loads_into_a_model_anywhere(tmp_path, monkeypatch):
    """Saved tensors carry their device; load_checkpoint maps them to the CPU first."""
    calls = []
    real_load = torch.load

    def recording_load(path, **keywords):
        calls.append(keywords.get("map_location"))
        return real_load(path, **keywords)

    monkeypatch.setattr(torch, "load", recording_load)
    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "c.ckpt", {"key": "k", "model": model.state_dict()})
    state = load_checkpoint(tmp_path / "c.ckpt", "k")
    assert calls == ["cpu"]
    restored = torch.nn.Linear(3, 2).to("meta").to_empty(device="cpu")
    restored.load_state_dict(state["model"])
    assert torch.equal(restored.weight, model.weight)


def test_the_checkpointed_noise_generator_is_a_cpu_one(tmp_path, monkeypatch):
    """A CUDA generator's state would not restore on a CPU machine (and vice versa)."""
    from tests.helpers import ADDRESS, HYPERPARAMETERS, tiny_next_step_data

    saved = []
    monkeypatch.setattr(trial_module, "save_checkpoint", lambda path, state: saved.append(state))
    trial_module.run_trial(
        tiny_next_step_data(tmp_path / "data.h5"),
        tmp_path / "t.json",
        ADDRESS,
        HYPERPARAMETERS,
        trial_module.TrialSettings(max_epochs=1, patience=1),
        checkpoint_path=tmp_path / "t.ckpt",
    )
    state = saved[-1]["noise_generator"]
    assert state.device.type == "cpu"
    torch.Generator(device="cpu").set_state(state)  # restores on any machine


def test_the_fused_kernel_is_never_asked_to_run_off_the_cpu(monkeypatch):
    def no_build():
        raise AssertionError("the CPU kernel was loaded for a non-CPU tensor")

    monkeypatch.setattr(fast_lstm._EXTENSION, "ops", no_build)
    for device in (torch.device("cuda"), torch.device("meta")):
        assert resolve_implementation("auto", device, torch.float32) == "reference"
        with pytest.warns(RuntimeWarning, match="CPU float32/float64 only"):
            assert resolve_implementation("fast", device, torch.float32) == "reference"
