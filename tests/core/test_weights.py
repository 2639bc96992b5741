"""The offline-first weights resolver, exercised with a state dict in torchvision's format."""

from __future__ import annotations

import pytest
import torch
import torchvision

from core.train.weights import (
    WEIGHTS_FILE,
    WeightsError,
    WeightsMissingError,
    cache_path,
    import_weights,
    resolve_weights,
)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("LAYERTUNE_ALLOW_DOWNLOAD", raising=False)
    return tmp_path / "torch"


def _write_torchvision_state_dict(path):
    model = torchvision.models.alexnet(weights=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model.state_dict()


def test_missing_weights_message_names_file_and_folder(torch_home):
    with pytest.raises(WeightsMissingError) as e:
        resolve_weights()
    msg = str(e.value)
    assert WEIGHTS_FILE in msg
    assert str(torch_home / "hub" / "checkpoints") in msg


def test_resolves_from_torch_cache(torch_home):
    sd = _write_torchvision_state_dict(torch_home / "hub" / "checkpoints" / WEIGHTS_FILE)
    w = resolve_weights()
    assert w.source == "cache" and w.path == cache_path()
    assert torch.equal(w.state_dict["classifier.4.weight"], sd["classifier.4.weight"])


def test_user_file_and_import(torch_home, tmp_path):
    f = tmp_path / "my_alexnet.pth"
    sd = _write_torchvision_state_dict(f)
    w = resolve_weights(f)
    assert w.source == "file"
    assert torch.equal(w.state_dict["features.0.weight"], sd["features.0.weight"])
    dest = import_weights(f)
    assert dest == cache_path() and resolve_weights().source == "cache"


def test_bad_files_give_clear_errors(torch_home, tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(WeightsError, match="could not be read"):
        resolve_weights(junk)
    wrong = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(3)}, wrong)
    with pytest.raises(WeightsError, match="not torchvision's ImageNet AlexNet"):
        resolve_weights(wrong)
    with pytest.raises(WeightsMissingError):
        resolve_weights(tmp_path / "nowhere.pth")


def test_pickled_module_refused_by_weights_only(torch_home, tmp_path):
    f = tmp_path / "pickled.pth"
    torch.save(torchvision.models.alexnet(weights=None), f)  # a whole module, not a state dict
    with pytest.raises(WeightsError):
        resolve_weights(f)
