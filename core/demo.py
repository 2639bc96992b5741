"""The demo project: synthetic colonoscopy-like videos, part of them labelled.

``make_demo_project`` writes a few synthetic videos (informative textured frames and
non-informative ones: motion blur, wall contact, bubbles, over-exposure), imports them
into a project, keeps some videos for testing (fully labelled) and pre-labels part of the
training videos' frames, leaving the rest for the user.
``headless_demo`` runs the whole pipeline without a display.

The demo is meant to show differences (between depths, between reduced data sets), so
it is not easy: a share of the segments are ambiguous (borderline frames, see
:mod:`core.synth.colonoscopy`), a few labels are wrong as a human's would be
(``label_noise``: each given label flipped with that probability, test labels included),
and several test videos give a video-level CI of some width. The true classes stay in
each study's ``demo_truth``, the flipped frames in ``demo_flipped``.

The CIMT tab gets synthetic carotid B-mode studies (:mod:`core.synth.carotid`) written as
DICOM ultrasound with ultrasound regions (the spacing comes from the file, as from a
scanner), each with the expert's ROIs and LI / MA tracings on its first frame.

The Polyps tab gets synthetic polyp videos (:mod:`core.synth.polyps`): the test ones
fully masked, the training ones masked on ``polyp_mask_fraction`` of their frames (the
rest is left for the user to draw), and the candidate generator already run on all.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.events import Notice
from core.io.importer import import_study
from core.store import Project
from core.tasks.frame_quality import CLASS_NAMES, FrameTaskConfig


@dataclass(frozen=True)
class DemoSize:
    n_videos: int = 8
    n_test_videos: int = 4
    n_frames: int = 120
    label_fraction: float = 0.6
    crops_per_frame: int = 8
    test_crops: int = 8
    epochs: int = 6
    ambiguous_fraction: float = 0.3  # share of segments rendered as borderline scenes
    label_noise: float = 0.05  # probability that a given label is the wrong class
    n_polyp_videos: int = 3
    n_polyp_test_videos: int = 1
    polyp_frames: int = 60
    polyp_mask_fraction: float = 0.6
    n_ct_volumes: int = 3
    n_ct_test_volumes: int = 1
    n_carotid_studies: int = 6
    n_carotid_test_studies: int = 2
    carotid_rois: int = 3  # ROIs per traced frame


SMALL = DemoSize(n_videos=5, n_test_videos=2, n_frames=36, label_fraction=0.75,
                 crops_per_frame=2, test_crops=2, epochs=2, n_polyp_videos=2,
                 polyp_frames=12, n_ct_volumes=2, n_carotid_studies=4,
                 n_carotid_test_studies=1, carotid_rois=2)


def default_demo_folder() -> Path:
    return Path.home() / "LayerTune" / "demo-project"


def make_demo_project(folder, size: DemoSize = DemoSize(), seed: int = 0
                      ) -> Generator[object, None, Project]:
    """Create the demo project in ``folder``, or reuse it when already made."""
    from core.synth import make_video

    folder = Path(folder)
    project = Project.open_or_create(folder)
    if project.get_info("demo"):
        if not project.get_info("demo_polyps"):  # a demo made before the Polyps tab
            yield from add_polyp_videos(project, folder, size, seed)
        if not project.get_info("demo_ctpa"):  # ... or before the Emboli tab
            yield from add_ctpa_volumes(project, folder, size, seed)
        if not project.get_info("demo_cimt"):  # ... or before the CIMT tab
            yield from add_carotid_studies(project, folder, size, seed)
        yield Notice(f"reusing the demo project in {folder}")
        return project
    rng = np.random.default_rng(seed)
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for v in range(size.n_videos):
        split = "test" if v >= size.n_videos - size.n_test_videos else "train"
        synth = yield from make_video(videos / f"colonoscopy-{v + 1:02d}.mp4", size.n_frames,
                                      rng, ambiguous_fraction=size.ambiguous_fraction)
        study = yield from import_study(project, synth.path, split=split)
        labelled = np.arange(size.n_frames)
        if split == "train":
            k = int(round(size.label_fraction * size.n_frames))
            labelled = np.sort(rng.choice(size.n_frames, k, replace=False))
        given = synth.labels[labelled].astype(np.int64)
        flipped = rng.random(len(labelled)) < size.label_noise  # a human's slips
        given[flipped] = 1 - given[flipped]
        entries = [(study.id, int(f), CLASS_NAMES[int(y)]) for f, y in zip(labelled, given)]
        project.set_labels(entries, user="demo")
        # the hidden truth (of the unlabelled frames too), for the GUI tests and tutorials
        project.update_study_meta(study.id, demo_truth=[int(x) for x in synth.labels],
                                  demo_flipped=[int(f) for f in labelled[flipped]])
    yield from add_polyp_videos(project, folder, size, seed)
    yield from add_ctpa_volumes(project, folder, size, seed)
    yield from add_carotid_studies(project, folder, size, seed)
    project.set_info("demo", {"seed": seed, "size": size.__dict__})
    return project


def add_polyp_videos(project: Project, folder: Path, size: DemoSize, seed: int
                     ) -> Generator[object, None, None]:
    """The Polyps tab's videos: masks on part of the training frames and on every test
    frame, then the candidate generator's boxes on every frame."""
    from core.jobs.candidates import generate_candidates
    from core.store.geometry import Mask
    from core.synth.polyps import write_polyp_video

    rng = np.random.default_rng(seed + 1)
    videos = Path(folder) / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    ids = []
    for v in range(size.n_polyp_videos):
        split = "test" if v >= size.n_polyp_videos - size.n_polyp_test_videos else "train"
        synth = yield from write_polyp_video(videos / f"polyps-{v + 1:02d}.mp4",
                                             size.polyp_frames, seed=seed * 100 + v)
        study = yield from import_study(project, synth.path, split=split, task="polyps")
        frames = np.arange(size.polyp_frames)
        if split == "train":
            k = int(round(size.polyp_mask_fraction * size.polyp_frames))
            frames = np.sort(rng.choice(size.polyp_frames, k, replace=False))
        for f in frames:
            project.add_annotation(study.id, "mask", Mask(synth.masks[f]), frame=int(f),
                                   user="demo")
        ids.append(study.id)
    report = yield from generate_candidates(project, ids)
    yield Notice(f"polyp demo: {report.text()}")
    project.set_info("demo_polyps", report.to_dict())


def add_ctpa_volumes(project: Project, folder: Path, size: DemoSize, seed: int
                     ) -> Generator[object, None, None]:
    """The Emboli tab's volumes: synthetic CTPA series written as real DICOM, their
    emboli marked as spheres (patient mm), and the tobogganing candidates."""
    from core.jobs.volume_candidates import generate_volume_candidates
    from core.store.geometry import Sphere
    from core.synth.ctpa import write_ctpa_series

    ids = []
    for v in range(size.n_ct_volumes):
        split = "test" if v >= size.n_ct_volumes - size.n_ct_test_volumes else "train"
        target = Path(folder) / "ctpa" / f"ctpa-{v + 1:02d}"
        if target.exists():  # a half-written series of an interrupted demo
            import shutil

            shutil.rmtree(target)
        synth = yield from write_ctpa_series(target, seed=seed * 100 + v)
        study = yield from import_study(project, synth.folder, split=split, task="emboli")
        for e in synth.emboli:
            project.add_annotation(study.id, "sphere", Sphere(tuple(e.centre_mm), e.radius_mm),
                                   user="demo")
        ids.append(study.id)
    if ids:
        report = yield from generate_volume_candidates(project, ids)
        yield Notice(f"emboli demo: {report.text()}")
        project.set_info("demo_ctpa", report.to_dict())


def add_carotid_studies(project: Project, folder: Path, size: DemoSize, seed: int
                        ) -> Generator[object, None, None]:
    """The CIMT tab's studies: synthetic carotid B-mode written as DICOM US (spacing in
    its ultrasound regions), each with the expert's ROIs and LI / MA tracings."""
    import core.io.ultrasound  # noqa: F401  (registers the ultrasound reader)
    from core.store.geometry import Box, Polyline
    from core.synth.carotid import CarotidParams
    from core.synth.carotid_dicom import write_carotid_study

    params = CarotidParams(n_rois=size.carotid_rois)
    n, n_test = size.n_carotid_studies, size.n_carotid_test_studies
    imts = []
    for v in range(n):
        split = "test" if v >= n - n_test else "train"
        path = Path(folder) / "ultrasound" / f"carotid-{v + 1:02d}.dcm"
        synth = yield from write_carotid_study(path, seed * 100 + 50 + v, params)
        study = yield from import_study(project, path, split=split, task="cimt")
        for f, tracing in synth.tracings.items():
            for name in ("LI", "MA"):
                project.add_annotation(study.id, "polyline", Polyline(tracing[name]), frame=f,
                                       value=name, user="demo")
            imts.append(synth.imt_mm(f))
        for f, box in synth.rois:
            project.add_annotation(study.id, "roi", Box(*box), frame=f, user="demo")
        project.update_study_meta(study.id, demo_imt_mm=[synth.imt_mm(f)
                                                         for f in sorted(synth.tracings)])
    if n:
        yield Notice(f"CIMT demo: {n} carotid ultrasound studies ({n_test} for testing), "
                     f"true IMT {min(imts):.2f}-{max(imts):.2f} mm")
    project.set_info("demo_cimt", {"studies": n, "test": n_test})


def headless_demo(folder, *, size: DemoSize = DemoSize(), depth: str | None = None,
                  epochs: int | None = None, weights_path=None, seed: int = 0,
                  device: str = "auto") -> Generator[object, None, dict]:
    """Create the demo project, train at a depth, evaluate on the test videos.

    Without pretrained weights the depth falls back to ``scratch`` (said in a Notice).
    Returns a JSON-ready summary.
    """
    from core.jobs import evaluate_run, train_run
    from core.train.engine import TrainConfig
    from core.train.weights import WeightsError, resolve_weights

    project = yield from make_demo_project(folder, size, seed)
    try:
        if depth is None or depth != "scratch":
            resolve_weights(weights_path)
            depth = depth or "fc7"
    except WeightsError as exc:
        yield Notice(f"{exc}\nRunning the demo from scratch instead.", "warning")
        depth = "scratch"
    init = "msra" if depth == "scratch" else "gaussian"
    cfg = TrainConfig(depth=depth, init=init, epochs=epochs or size.epochs, patience=3,
                      seed=seed, device=device)
    opts = {"config": FrameTaskConfig(crops_per_frame=size.crops_per_frame,
                                      test_crops=size.test_crops)}
    outcome = yield from train_run(project, cfg, task_options=opts, weights_path=weights_path)
    res = yield from evaluate_run(project, outcome.run_id, task_options=opts, seed=seed,
                                  device=device)
    summary = {"project": str(Path(folder)), "run": outcome.run_id, "depth": depth,
               "epochs_run": outcome.result.epochs_run,
               "best_val_auc": outcome.result.best_auc,
               "test": res.to_dict()}
    project.close()
    return summary
