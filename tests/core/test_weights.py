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
    custom_path,
    import_weights,
    install_weights,
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
    dest = import_weights(f)  # random weights: installed as custom, beside the cache
    assert dest == custom_path() and resolve_weights().source == "custom"


def test_bad_files_give_clear_errors(torch_home, tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(WeightsError, match="damaged or is not a PyTorch weights file"):
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


# ---------------------------------------------------------------- issue 6, items 8 and 22


def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_plain(msg: str) -> None:
    """No torch unpickling text, never the advice to load unsafely."""
    low = msg.lower()
    assert "weights_only" not in low and "unpickl" not in low
    assert "file an issue" not in low and "arbitrary code" not in low


def test_damaged_files_get_a_plain_message(torch_home, tmp_path):
    good = tmp_path / "good.pth"
    _write_torchvision_state_dict(good)
    data = good.read_bytes()
    cases = {
        "empty.pth": b"",
        "text.pth": b"this is a text file\n" * 20,
        "truncated.pth": data[: len(data) // 3],
    }
    for name, content in cases.items():
        f = tmp_path / name
        f.write_bytes(content)
        with pytest.raises(WeightsError) as e:
            resolve_weights(f)
        msg = str(e.value)
        _assert_plain(msg)
        assert str(f) in msg and WEIGHTS_FILE in msg
        assert e.value.__cause__ is None and e.value.__suppress_context__
    with pytest.raises(WeightsError, match="empty"):
        resolve_weights(tmp_path / "empty.pth")
    with pytest.raises(WeightsError, match="damaged"):
        resolve_weights(tmp_path / "truncated.pth")


def test_a_pickle_with_code_never_runs_and_the_message_is_plain(torch_home, tmp_path):
    import pickle

    marker = tmp_path / "ran.txt"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    f = tmp_path / "evil.pth"
    torch.save({"features.0.weight": Evil()}, f, pickle_module=pickle)
    with pytest.raises(WeightsError) as e:
        resolve_weights(f)
    assert not marker.exists()
    _assert_plain(str(e.value))
    assert "refused" in str(e.value) and "code" in str(e.value)


def test_values_that_are_not_tensors_are_a_weights_error(torch_home, tmp_path):
    import numpy as np

    sd = _write_torchvision_state_dict(tmp_path / "x.pth")
    for bad in (7, "text", [1.0, 2.0], {"a": sd["features.0.weight"]}):
        f = tmp_path / "notensors.pth"
        torch.save({**sd, "features.0.weight": bad}, f)
        with pytest.raises(WeightsError, match="not tensors") as e:
            resolve_weights(f)
        assert "features.0.weight" in str(e.value)
    torch.save({**sd, "features.0.weight": np.zeros((64, 3, 11, 11), np.float32)}, f)
    with pytest.raises(WeightsError):  # numpy arrays are refused unread (weights_only)
        resolve_weights(f)
    f = tmp_path / "ints.pth"
    torch.save({**sd, "features.0.bias": torch.zeros(64, dtype=torch.int64)}, f)
    with pytest.raises(WeightsError, match="non-floating-point"):
        resolve_weights(f)


def test_cli_maps_non_tensor_weights_to_exit_3(torch_home, tmp_path, capsys):
    from core.cli import main

    sd = _write_torchvision_state_dict(tmp_path / "x.pth")
    f = tmp_path / "notensors.pth"
    torch.save({k: 1.5 for k in sd}, f)
    assert main(["weights", "import", str(f)]) == 3
    err = capsys.readouterr().err
    assert "not tensors" in err and "AttributeError" not in err


def test_a_file_with_the_right_shapes_is_only_custom_weights(torch_home, tmp_path):
    f = tmp_path / "my_alexnet.pth"
    _write_torchvision_state_dict(f)
    sha = _sha(f)
    assert not sha.startswith("7be5be79")  # random weights: not torchvision's file
    w = resolve_weights(f)
    assert not w.original and w.sha256 == sha and w.kind == "custom weights"
    assert "custom weights" in w.describe() and "7be5be79" in w.describe()
    assert w.record().startswith("custom weights (file: ")
    installed = install_weights(f)
    # never under torchvision's name, where other programs would take it for the original
    assert installed.path == custom_path() and not cache_path().exists()
    assert not installed.original
    again = resolve_weights()
    assert again.source == "custom" and not again.original and again.sha256 == sha


def test_torchvision_hash_is_recognised_as_the_original(torch_home, tmp_path, monkeypatch):
    import core.train.weights as weights

    f = tmp_path / WEIGHTS_FILE
    _write_torchvision_state_dict(f)
    # the real file is 233 MB and never downloaded in tests: pretend this file's hash
    # is the published one by making the published prefix that of this file
    monkeypatch.setattr(weights, "TORCHVISION_SHA256_PREFIX", _sha(f)[:8])
    custom = tmp_path / "custom.pth"
    _write_torchvision_state_dict(custom)
    install_weights(custom)
    assert resolve_weights().source == "custom"
    w = install_weights(f)
    assert w.original and w.path == cache_path() and "as published" in w.describe()
    assert not custom_path().exists()  # importing the original retires the custom file
    r = resolve_weights()
    assert r.source == "cache" and r.original
    assert r.record().startswith("torchvision ImageNet AlexNet weights (cache: ")


def test_cli_weights_status_and_import_say_custom(torch_home, tmp_path, capsys):
    import json

    from core.cli import main

    f = tmp_path / "my_alexnet.pth"
    _write_torchvision_state_dict(f)
    assert main(["weights", "import", str(f)]) == 0
    out = capsys.readouterr().out
    assert "custom weights" in out
    assert main(["weights", "status"]) == 0
    out = capsys.readouterr().out
    assert "custom weights" in out and "ImageNet AlexNet weights found" not in out
    assert main(["weights", "status", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["available"] and d["original"] is False and d["sha256"] == _sha(f)
