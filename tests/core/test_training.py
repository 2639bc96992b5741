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


def test_each_best_model_is_its_own_file_and_only_the_best_and_last_are_kept(tmp_path):
    from core.train.engine import _prune, snapshot_name

    # labels independent of content: the validation AUC goes up and down, so the model
    # training ends on is (almost surely) not the best one
    ds = toy_dataset(n_per_group=10)
    ds.labels = np.random.default_rng(1).permutation(ds.labels)
    cfg = TrainConfig(depth="scratch", init="msra", epochs=4, batch_size=8, precision="fp32",
                      device="cpu", patience=4, seed=7, val_every=2)
    events, res = run_to_end(train(ds, cfg, out_dir=tmp_path))
    saved = [e for e in events if isinstance(e, SnapshotSaved)]
    vals = [e for e in events if isinstance(e, Validated)]
    assert len(saved) >= 2 and res.snapshot == saved[-1].path
    assert not vals[-1].is_best  # the premise: training ended on a model that is not the best
    for e in saved:
        assert e.path.endswith(snapshot_name(e.epoch, e.iteration))
        assert e.val_probs.shape == (len(e.val_items), 2)
    assert len({e.path for e in saved}) == len(saved)  # never overwritten
    last = tmp_path / ("last-" + snapshot_name(res.epochs_run - 1, res.iterations))
    assert res.last_snapshot == str(last)
    on_disk = sorted(p.name for p in tmp_path.iterdir())
    best = saved[-1].path.rsplit("/", 1)[1]
    assert on_disk == sorted([best, best[:-3] + ".json", last.name, last.stem + ".json"])
    assert res.disk_bytes == sum(p.stat().st_size for p in tmp_path.iterdir())
    sd_last, meta = load_snapshot(last)
    assert meta["kind"] == "last" and meta["stored"] == "full"
    sd_best, _ = load_snapshot(saved[-1].path)
    assert not torch.equal(sd_last["classifier.6.weight"], sd_best["classifier.6.weight"])
    # training that ends on its best model keeps that one file only
    _, res2 = run_to_end(train(toy_dataset(n_per_group=10), TrainConfig(
        depth="scratch", epochs=1, batch_size=8, precision="fp32", device="cpu"),
        out_dir=tmp_path / "one"))
    assert res2.last_snapshot == res2.snapshot
    assert len(list((tmp_path / "one").glob("*.pt"))) == 1
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


def test_fine_tuned_snapshots_store_only_the_tuned_layers(tmp_path, monkeypatch):
    import hashlib

    from core.train.checkpoint import load_model
    from core.train.weights import WeightsMissingError, resolve_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    pre_file = tmp_path / "alexnet.pth"
    torch.save(fake_pretrained(), pre_file)
    w = resolve_weights(pre_file)
    assert w.reference()["sha256"] == hashlib.sha256(pre_file.read_bytes()).hexdigest()
    cfg = TrainConfig(depth="fc8", epochs=1, batch_size=8, precision="fp32", device="cpu")
    _, res = run_to_end(train(toy_dataset(), cfg, pretrained=w.state_dict, keep_model=True,
                              out_dir=tmp_path / "run", pretrained_ref=w.reference()))
    raw = torch.load(res.snapshot, weights_only=True)
    assert sorted(raw) == ["classifier.6.bias", "classifier.6.weight"]  # fc8 only
    assert res.disk_bytes < 100_000 < pre_file.stat().st_size  # kB, not ~220 MB
    sd, meta = load_snapshot(res.snapshot)
    assert meta["stored"] == "tuned" and meta["pretrained"]["sha256"] == w.sha256
    want = res.model.state_dict()
    assert set(sd) == set(want)
    assert all(torch.equal(sd[k], want[k].cpu()) for k in want)  # the full model, rebuilt
    model, _ = load_model(res.snapshot, 2)
    x = torch.rand(2, 3, 224, 224)
    # (equal weights; the memory layouts differ, hence not bit-equal outputs)
    assert torch.allclose(model.eval()(x), res.model.eval().cpu()(x), atol=1e-5)
    # the pretrained file is needed: its absence, or another file in its place, is said
    pre_file.rename(tmp_path / "moved.pth")
    with pytest.raises(WeightsMissingError, match="stores only the tuned layers") as e:
        load_snapshot(res.snapshot)
    assert w.sha256[:8] in str(e.value) and "missing" in str(e.value)
    torch.save(build_alexnet(1000).state_dict(), pre_file)  # other weights, same name
    with pytest.raises(WeightsMissingError, match="another file"):
        load_snapshot(res.snapshot)
    (tmp_path / "moved.pth").replace(pre_file)
    assert torch.equal(load_snapshot(res.snapshot)[0]["features.0.weight"],
                       w.state_dict["features.0.weight"])
