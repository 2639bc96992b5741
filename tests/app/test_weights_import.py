"""Importing weights from the window: a file that is not torchvision's is said to be
custom weights; a damaged one gets the plain message (issue 6, item 8)."""

from __future__ import annotations

import pytest
import torch
import torchvision
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.training_controller import ask_import_weights
from core.train.weights import cache_path, custom_path


@pytest.fixture
def dialogs(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    said = []
    monkeypatch.setattr(QMessageBox, "information",
                        lambda parent, title, text: said.append(("info", title, text)))
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda parent, title, text: said.append(("warning", title, text)))

    def choose(path):
        monkeypatch.setattr(QFileDialog, "getOpenFileName",
                            lambda *a, **k: (str(path), "PyTorch weights (*.pth *.pt)"))
    return said, choose


def test_custom_weights_are_said_to_be_custom(qtbot, dialogs, tmp_path):
    said, choose = dialogs
    f = tmp_path / "my_alexnet.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), f)
    choose(f)
    assert ask_import_weights(None) == custom_path()
    assert not cache_path().exists()  # never under torchvision's name
    (kind, title, text), = said
    assert kind == "info" and "Custom weights" in title
    assert "custom weights" in text and "7be5be79" in text and "recorded" in text


def test_a_damaged_file_gets_a_plain_warning(qtbot, dialogs, tmp_path):
    said, choose = dialogs
    f = tmp_path / "broken.pth"
    f.write_bytes(b"not weights at all")
    choose(f)
    assert ask_import_weights(None) is None
    (kind, _, text), = said
    assert kind == "warning" and "damaged" in text
    assert "weights_only" not in text and "arbitrary code" not in text
