"""The training engine: frozen layers untouched, tuned layers move, events, snapshots."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.events import BatchEnd, EpochEnd, Scored, SnapshotSaved, Validated, drain
from core.train.checkpoint import load_snapshot
from core.train.engine import TrainConfig, train
from core.train.model import LAYERS, build_alexnet, layer_parameters, schedule
from core.train.patches import ArrayDataset
from core.train.weights import WeightsMissingError


def toy_dataset(n_per_group=8, n_groups=4, seed=0, size=227):
    """Bright-textured (class 1) vs smooth-dark (class 0) patches, 4 'videos'."""
    rng = np.random.default_rng(seed)
    n = n_per_group * n_groups
    labels = np.tile([0, 1], n // 2)
    base = rng.integers(60, 100, (n, 1, 1, 3))
    tex = rng.integers(0, 120, (n, size, size, 3)) * labels[:, None, None, None]
    patches = np.clip(base + tex, 0, 255).astype(np.uint8)
    groups = np.repeat(np.arange(n_groups), n_per_group)
    return ArrayDataset(patches, labels, np.arange(n), groups)


def fake_pretrained():
    torch.manual_seed(123)
    return build_alexnet(1000).state_dict()


def run_to_end(gen):
    """(list of yielded events, returned value) of a core generator."""
    events = []
    return events, drain(gen, events.append)


@pytest.mark.parametrize("depth,cache", [("fc7", True), ("fc7", False), ("conv4", True)])
def test_one_step_changes_only_tuned_layers(depth, cache):
    pre = fake_pretrained()
    cfg = TrainConfig(depth=depth, epochs=1, batch_size=8, max_iterations=1, precision="fp32",
                      device="cpu", cache_features=cache)
    events, res = run_to_end(train(toy_dataset(), cfg, pretrained=pre, keep_model=True))
    model = res.model
    tuned = schedule(depth).tuned_layers
    ref = build_alexnet(2, {k: v.clone() for k, v in pre.items()})
    for layer in LAYERS:
        for p_new, p_old in zip(layer_parameters(model, layer), layer_parameters(ref, layer)):
            if layer == "fc8":
                continue  # freshly initialised on both sides
            if layer in tuned:
                assert not torch.equal(p_new.detach().cpu(), p_old), layer
            else:
                assert torch.equal(p_new.detach().cpu(), p_old), layer
    assert res.iterations == 1


def test_sgd_step_moves_bias_twice_as_far_and_decays_with_gamma():
    """With a unit gradient and no momentum history, SGD moves each param by its rate."""
    from core.train.model import make_optimizer, set_epoch_rates

    for depth in ("fc6", "scratch"):
        model = build_alexnet(2)
        sched = schedule(depth)
        opt = make_optimizer(model, sched)
        for epoch in (0, 2):
            set_epoch_rates(opt, sched, epoch)
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            for p in model.parameters():
                p.grad = torch.ones_like(p)
            opt.step()
            opt.state.clear()  # forget momentum so the next step is lr * grad again
            for ls in sched.layers:
                w, b = layer_parameters(model, ls.layer)
                names = {id(p): n for n, p in model.named_parameters()}
                nw, nb = names[id(w)], names[id(b)]
                dw = float((before[nw] - w.detach()).mean())
                db = float((before[nb] - b.detach()).mean())
                f = 0.95**epoch
                assert dw == pytest.approx(ls.weight_lr * f, rel=1e-4, abs=1e-9)
                assert db == pytest.approx(ls.bias_lr * f, rel=1e-4, abs=1e-9)
                assert db == pytest.approx(2 * dw, rel=1e-4, abs=1e-9)


def test_missing_weights_refuses_fine_tuning():
    with pytest.raises(WeightsMissingError, match="pretrained"):
        next(train(toy_dataset(), TrainConfig(depth="fc7"), pretrained=None))


def test_full_run_events_snapshot_and_repeatability(tmp_path):
    ds = toy_dataset(n_per_group=10)
    cfg = TrainConfig(depth="scratch", init="msra", epochs=3, batch_size=8, precision="fp32",
                      device="cpu", patience=3, seed=7)
    preview = {"strip": ds.subset(np.arange(6))}
    events, res = run_to_end(train(ds, cfg, out_dir=tmp_path / "a", preview=preview))
    kinds = {type(e) for e in events}
    assert {BatchEnd, Validated, EpochEnd, SnapshotSaved, Scored} <= kinds
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert len(epochs) == res.epochs_run
    best_val = max(e.auc for e in events if isinstance(e, Validated))
    assert res.best_auc == pytest.approx(best_val)
    sd, meta = load_snapshot(res.snapshot)
    assert meta["depth"] == "scratch" and meta["epoch"] == res.best_epoch
    assert set(sd) == set(build_alexnet(2).state_dict())
    scored = [e for e in events if isinstance(e, Scored)]
    assert np.array_equal(scored[0].items, np.arange(6))
    assert np.all((scored[-1].probs >= 0) & (scored[-1].probs <= 1))
    # same seed -> same losses
    events2, _ = run_to_end(train(ds, cfg, out_dir=tmp_path / "b"))
    l1 = [e.loss for e in events if isinstance(e, BatchEnd)]
    l2 = [e.loss for e in events2 if isinstance(e, BatchEnd)]
    assert l1 == l2


def test_cached_features_equal_running_frozen_layers():
    pre = fake_pretrained()
    ds = toy_dataset()
    losses = {}
    for cache in (True, False):
        cfg = TrainConfig(depth="fc6", epochs=2, batch_size=8, precision="fp32", device="cpu",
                          cache_features=cache, seed=3)
        events, _ = run_to_end(train(ds, cfg, pretrained=pre))
        losses[cache] = np.array([e.loss for e in events if isinstance(e, BatchEnd)])
    assert np.allclose(losses[True], losses[False], rtol=1e-4, atol=1e-5)


def test_cancel_between_batches_closes_cleanly(tmp_path):
    cfg = TrainConfig(depth="scratch", epochs=5, batch_size=4, precision="fp32", device="cpu")
    gen = train(toy_dataset(), cfg, out_dir=tmp_path)
    for ev in gen:
        if isinstance(ev, BatchEnd) and ev.iteration == 2:
            break
    gen.close()  # GeneratorExit at the yield: no exception escapes
    assert not any(p.suffix == ".tmp" for p in tmp_path.glob("*"))


def test_patience_stops_early():
    # labels independent of content: validation AUC cannot keep improving
    ds = toy_dataset(n_per_group=6)
    rng = np.random.default_rng(0)
    ds.labels = rng.permutation(ds.labels)
    cfg = TrainConfig(depth="scratch", epochs=30, batch_size=8, precision="fp32", device="cpu",
                      patience=2)
    _, res = run_to_end(train(ds, cfg))
    assert res.stopped == "patience"
    assert res.epochs_run <= res.best_epoch + 1 + 2
    assert not math.isnan(res.best_auc)


def test_each_best_model_is_its_own_file_and_only_the_newest_are_kept(tmp_path):
    from core.train.engine import _prune, snapshot_name

    ds = toy_dataset(n_per_group=10)
    cfg = TrainConfig(depth="scratch", init="msra", epochs=3, batch_size=8, precision="fp32",
                      device="cpu", patience=3, seed=7, val_every=2)
    events, res = run_to_end(train(ds, cfg, out_dir=tmp_path, keep_snapshots=2))
    saved = [e for e in events if isinstance(e, SnapshotSaved)]
    assert saved and res.snapshot == saved[-1].path
    for e in saved:
        assert e.path.endswith(snapshot_name(e.epoch, e.iteration))
        assert e.val_probs.shape == (len(e.val_items), 2)
    assert len({e.path for e in saved}) == len(saved)  # never overwritten
    on_disk = sorted(str(p) for p in tmp_path.glob("*.pt"))
    assert on_disk == sorted(e.path for e in saved[-2:])
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == sorted(p[:-3].rsplit("/", 1)[1]
                                                                     for p in on_disk)
    # pruning deletes the oldest files (and their metadata) beyond the newest `keep`
    files = []
    for k in range(5):
        f = tmp_path / "prune" / snapshot_name(0, k)
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(b"x")
        f.with_suffix(".json").write_text("{}")
        files.append(f)
    _prune(files, 3)
    left = sorted(p.name for p in (tmp_path / "prune").iterdir())
    assert left == sorted([snapshot_name(0, k) for k in (2, 3, 4)]
                          + [snapshot_name(0, k)[:-3] + ".json" for k in (2, 3, 4)])
