"""The experiment queue: plans, shared frozen-layer features, a persisted resumable queue.

Tiny projects (3 training videos of 12 frames, 1 test video of 16; one crop per frame),
fine-tuning from a randomly initialised AlexNet saved as custom weights (no ImageNet
weights offline), one epoch on the CPU in fp32, shallow depths where possible.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from core.events import Notice, drain
from core.experiments import (
    KINDS,
    QueueEvent,
    expand,
    make_plan,
    planned_runs,
    run_experiment,
    start_experiment,
)
from core.experiments.cache import SharedCache, trunk_length
from core.io.importer import import_study
from core.jobs import RunStarted
from core.store import Project
from core.synth import make_video
from core.train.model import DEPTHS, build_alexnet, schedule, split_model

OPTIONS = {"crops_per_frame": 1, "test_crops": 1}
TRAIN = {"epochs": 1, "batch_size": 8, "device": "cpu", "precision": "fp32"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "random-alexnet.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    return path


def make_project(folder, videos, seed=0, size=(70, 100)):
    """``videos``: [(n frames, split)]; every frame labelled with its true class."""
    rng = np.random.default_rng(seed)
    with Project.create(folder / "proj") as p:
        for v, (n, split) in enumerate(videos):
            synth = drain(make_video(folder / f"v{v}.mp4", n, rng, size=size))
            st = drain(import_study(p, synth.path, split=split))
            p.set_labels([(st.id, f, "informative" if synth.labels[f] else "non-informative")
                          for f in range(n)], user="test")
    return folder / "proj"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("exp"), [(12, "train")] * 3 + [(16, "test")])


def plan_of(kind, weights, **kw):
    return make_plan(kind, "frame_quality", train=TRAIN, task_options=OPTIONS,
                     weights=str(weights), seed=3, **kw)


# ------------------------------------------------------------------ plans
def test_plans_hold_the_papers_experiments():
    depth = expand(make_plan("depth", "frame_quality"))
    assert [s.depth for s in depth] == list(DEPTHS) and len(depth) == 9
    data = expand(make_plan("data", "frame_quality"))
    assert {s.depth for s in data} == {"conv1", "scratch"}
    assert sorted({s.fraction for s in data}) == [0.01, 0.05, 0.1, 0.25, 0.5, 1.0]
    assert sorted({s.fraction for s in expand(make_plan("data", "polyps"))}) == [.25, .5, 1.]
    conv = expand(make_plan("convergence", "frame_quality"))
    assert [(s.depth, s.init) for s in conv] == [("conv1", "caffe"), ("scratch", "gaussian"),
                                                 ("scratch", "xavier"), ("scratch", "msra")]
    budget = make_plan("budget", "frame_quality", depths=["fc7", "conv1"],
                       fractions=[10, 25, 50, 100], target={"metric": "sensitivity@0.1",
                                                            "value": 0.9})
    assert [s.key for s in expand(budget)][:4] == ["fc7@1", "fc7@0.5", "fc7@0.25", "fc7@0.1"]
    assert budget["target"] == {"metric": "sensitivity@0.1", "value": 0.9}
    assert set(KINDS) == {"depth", "data", "convergence", "budget"}
    for bad in ({"kind": "sweep"}, {"depths": ["fc9"]}, {"fractions": [0]},
                {"train": {"epochs": 0}}, {"train": {"lr": 1}}):
        kind = bad.pop("kind", "data")
        with pytest.raises(ValueError):
            make_plan(kind, "frame_quality", **bad)
    with pytest.raises(ValueError, match="one depth or two"):
        make_plan("budget", "frame_quality", depths=["fc8", "fc7", "fc6"])


# ------------------------------------------------------------------ shared features
def test_trunk_lengths_match_the_model_split():
    model = build_alexnet(2)
    from core.experiments.cache import leaves

    for d in DEPTHS:
        trunk, _ = split_model(model, schedule(d))
        assert trunk_length(d) == len(leaves(trunk)), d


def test_shared_features_are_the_runs_own(project, weights):
    """fc6, then fc8 and fc7 read features extended from fc6's cut: the same training
    losses as each run caching its own, and the frozen layers ran over the patches once."""
    from core.jobs.records import data_rng
    from core.tasks import get_task
    from core.train.engine import TrainConfig, train
    from core.train.sampling import grouped_split

    sd = torch.load(weights, weights_only=True)
    with Project.open(project) as p:
        t = get_task("frame_quality", **OPTIONS)
        items = t.labelled_items(p, "train")
        ds = drain(t.dataset(p, items, data_rng(0, "train"), split="train"))
    split = grouped_split(ds.groups, ds.labels, 0.2, np.random.default_rng(0))
    cache = SharedCache(("fc8", "fc7", "fc6"))

    def losses(depth, fc):
        cfg = TrainConfig(depth=depth, epochs=1, batch_size=8, device="cpu", precision="fp32",
                          max_iterations=3)
        evs = []
        res = drain(train(ds, cfg, pretrained=sd, split=split, feature_cache=fc), evs.append)
        return [e.loss for e in evs if type(e).__name__ == "BatchEnd"], res

    for depth in ("fc6", "fc8", "fc7"):
        shared, res = losses(depth, cache)
        own, _ = losses(depth, None)
        np.testing.assert_allclose(shared, own, rtol=1e-5, atol=1e-6)
        assert set(res.history[0]["layer_change"]) == set(schedule(depth).tuned_layers)
    assert cache.computed_patches == len(ds)  # one pass through conv1-conv5, for all three
    assert cache.hits["features"] >= 2


# ------------------------------------------------------------------ the queue
def _events(gen):
    evs: list = []
    out = drain(gen, evs.append)
    return out, evs


def test_depth_queue_trains_evaluates_and_resumes_without_redoing(project, weights):
    with Project.open(project) as p:
        exp = start_experiment(p, "depth", "frame_quality",
                               plan_of("depth", weights, depths=["fc8", "fc7"]))
        assert exp.status == "queued" and exp.runs == []
        out, evs = _events(run_experiment(p, exp.id))
        qs = [e for e in evs if isinstance(e, QueueEvent)]
        assert [(e.key, e.state) for e in qs if e.state in ("started", "finished")] == [
            ("fc8", "started"), ("fc8", "finished"), ("fc7", "started"), ("fc7", "finished")]
        assert [e.state for e in qs].count("evaluated") == 2
        said = [e.message for e in qs if e.state == "evaluated"]
        assert all(m.startswith("test AUC ") and "95 % CI" in m for m in said), said
        assert out.status == "finished" and p.experiment(exp.id).status == "finished"
        runs = [p.run(r) for r in p.experiment(exp.id).runs]
        assert [r.depth for r in runs] == ["fc8", "fc7"]
        assert runs[0].split == runs[1].split  # the same split and seed
        for r in runs:
            assert r.experiment_id == exp.id and r.metrics["test"]["auc"] is not None
            assert len(r.metrics["layer_change"]) == len(r.metrics["history"]) == 1
            assert r.metrics["val_curve"] and r.metrics["images_per_s"] > 0
        assert set(runs[1].metrics["layer_change"][0]) == {"fc7", "fc8"}
        assert [s.test["auc"] for s in out.runs] == [r.metrics["test"]["auc"] for r in runs]
        finished = [r.finished for r in runs]
        # again: nothing is redone
        again, evs = _events(run_experiment(p, exp.id))
        assert [e.state for e in evs if isinstance(e, QueueEvent)] == ["skipped", "skipped"]
        assert [p.run(r).finished for r in p.experiment(exp.id).runs] == finished


def test_diverged_run_is_marked_and_the_queue_goes_on(project, weights):
    plan = plan_of("depth", weights, depths=["fc8", "fc7"])
    plan["runs"][0]["train"] = {"fc8_lr": 1e300}  # inf in float32: the loss turns NaN
    with Project.open(project) as p:
        exp = start_experiment(p, "depth", "frame_quality", plan)
        out, evs = _events(run_experiment(p, exp.id))
        states = {(e.key, e.state) for e in evs if isinstance(e, QueueEvent)}
        assert ("fc8", "diverged") in states and ("fc7", "finished") in states
        assert any(isinstance(e, Notice) and "diverged" in e.message for e in evs)
        bad = planned_runs(p, exp.id)["fc8"]
        assert bad.status == "failed" and bad.metrics["diverged"] is True
        assert bad.metrics["stopped"] == "diverged"
        assert [s.status for s in out.runs] == ["diverged", "finished"]
        again, evs = _events(run_experiment(p, exp.id))  # a diverged run is not redone
        assert [e.state for e in evs if isinstance(e, QueueEvent)][:2] == ["skipped"] * 2


def test_cancel_within_a_run_then_resume(project, weights):
    with Project.open(project) as p:
        exp = start_experiment(p, "data", "frame_quality",
                               plan_of("data", weights, depths=["fc8"], fractions=[1, .5]))
        gen = run_experiment(p, exp.id, evaluate=False)
        second = False
        for ev in gen:
            second = second or (isinstance(ev, QueueEvent) and ev.state == "started"
                                and ev.index == 1)
            if second and isinstance(ev, RunStarted):
                break
        next(gen)  # within the second run
        gen.close()
        assert p.experiment(exp.id).status == "cancelled"
        first = planned_runs(p, exp.id)
        assert first["fc8@1"].status == "finished" and first["fc8@0.5"].status == "cancelled"
        out, evs = _events(run_experiment(p, exp.id, evaluate=False))
        states = [(e.key, e.state) for e in evs if isinstance(e, QueueEvent)]
        assert states[0] == ("fc8@1", "skipped") and ("fc8@0.5", "finished") in states
        now = planned_runs(p, exp.id)
        assert now["fc8@1"].id == first["fc8@1"].id and now["fc8@0.5"].id != first["fc8@0.5"].id
        assert p.run(first["fc8@0.5"].id).experiment_id is None  # kept, detached
        assert out.status == "finished"


# ------------------------------------------------------------------ bad input
def test_too_few_labels_and_a_fraction_that_empties_a_class(tmp_path, weights):
    folder = make_project(tmp_path, [(8, "train"), (8, "test")])
    with Project.open(folder) as p:
        st = p.studies()[0]
        p.set_labels([(st.id, f, "informative") for f in range(8)], user="test")
        with pytest.raises(ValueError, match="at least 2 labelled frames of each class"):
            start_experiment(p, "depth", "frame_quality", plan_of("depth", weights))
        assert p.experiments() == []
    # video 0 holds both classes (validation), video 1 class 0 only, videos 2-5 class 1
    # only: 20 % of the 5 training videos keeps one video, so one class
    folder = make_project(tmp_path / "b", [(6, "train")] * 6 + [(6, "test")])
    with Project.open(folder) as p:
        for i, st in enumerate(p.studies()[:6]):
            p.set_labels([(st.id, f, "non-informative" if (i == 1 or (i == 0 and f < 3))
                           else "informative") for f in range(6)], user="test")
        with pytest.raises(ValueError, match="fraction 0.2 leaves the class .* no training"):
            start_experiment(p, "data", "frame_quality",
                             plan_of("data", weights, depths=["fc8"], fractions=[1, .2]))
        assert p.experiments() == []


def test_a_moved_project_is_refused_intact(tmp_path, weights):
    folder = make_project(tmp_path / "a", [(12, "train")] * 3 + [(16, "test")])
    with Project.open(folder) as p:
        exp = start_experiment(p, "depth", "frame_quality",
                               plan_of("depth", weights, depths=["fc8"]))
    (tmp_path / "a").rename(tmp_path / "moved")
    with Project.open(tmp_path / "moved" / "proj") as p:
        with pytest.raises(ValueError, match="not where they were imported from"):
            drain(run_experiment(p, exp.id))
        assert p.experiment(exp.id).status == "queued" and p.runs() == []
