"""Mask folders: reading, binary checks, import onto studies (bad input per file, nothing
lost, undo), export, and round trips (synthetic and the real Kvasir-SEG sample)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.events import Notice, drain
from core.io.images import ImageSetError
from core.io.importer import StudyMissingError, import_study, open_study
from core.io.masks import (
    binarise,
    export_mask_folder,
    import_mask_folder,
    is_binary,
    mask_grey,
    read_mask,
)
from core.io.masks_store import frame_number
from core.store import Box, Mask, Project
from core.store.history import AnnotationHistory

KVASIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "kvasir_seg"
H, W = 32, 40


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as p:
        yield p


def video(project, n=12, name="clip", h=H, w=W):
    return project.add_study(f"/d/{name}.mp4", f"h-{name}", "video", "polyps", n, 25.0, h, w,
                             name=name)


def blob(seed, h=H, w=W, n=2):
    """A binary mask of ``n`` separate rectangles (8-connected components)."""
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), bool)
    for k in range(n):
        r, c = int(rng.integers(1, h // 2 - 4)), int(rng.integers(1 + k * w // n, (k + 1) * w // n - 6))
        m[r:r + int(rng.integers(3, h // 2)), c:c + int(rng.integers(2, 5))] = True
    return m


def write(path: Path, mask: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = mask if mask.dtype != bool else np.where(mask, 255, 0).astype(np.uint8)
    assert cv2.imwrite(str(path), img, *([kw["params"]] if "params" in kw else []))
    return path


def image_set(root: Path, sizes, masks=None) -> Path:
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(len(sizes))
    for i, (h, w) in enumerate(sizes):
        cv2.imwrite(str(root / "images" / f"img{i}.png"),
                    rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    for i in masks or ():
        write(root / "masks" / f"img{i}.png", blob(i, *sizes[i]))
    return root


def stored(project, study_id):
    return {a.frame: a.geometry.array for a in project.annotations(study_id, kind="mask")}


# ---------------------------------------------------------------------------- reading

def test_frame_numbers_from_names():
    assert [frame_number(n) for n in ("frame_000123.png", "000123.png", "123.png",
                                      "clip_7_mask.png", "a/b/frame-5.jpg", "x.png")] == \
        [123, 123, 123, 7, 5, None]


def test_read_mask_formats(tmp_path):
    m = blob(1)
    for suffix in (".png", ".bmp", ".tif", ".tiff"):
        assert np.array_equal(read_mask(write(tmp_path / f"m{suffix}", m)), m), suffix
    rgb = np.dstack([np.where(m, 255, 0).astype(np.uint8)] * 3)
    assert np.array_equal(read_mask(write(tmp_path / "rgb.png", rgb)), m)
    red = np.zeros((H, W, 3), np.uint8)
    red[m] = (0, 0, 255)  # BGR: pure red polyps on black (grey 76 would lose them)
    assert np.array_equal(read_mask(write(tmp_path / "red.png", red)), m)
    deep = np.where(m, 65535, 0).astype(np.uint16)
    assert np.array_equal(read_mask(write(tmp_path / "deep.png", deep)), m)
    assert np.array_equal(read_mask(write(tmp_path / "labels16.png", m.astype(np.uint16))), m)
    labels = m.astype(np.uint8)  # a 0/1 label map
    assert np.array_equal(read_mask(write(tmp_path / "labels.png", labels)), m)
    jpeg = write(tmp_path / "labels.jpg", labels, params=[cv2.IMWRITE_JPEG_QUALITY, 100])
    assert not read_mask(jpeg).any()  # JPEG: values near black are noise, not labels
    grey = np.full((H, W), 127, np.uint8)
    grey[m] = 128  # half range exactly: >= 128 is foreground
    assert np.array_equal(read_mask(write(tmp_path / "half.png", grey)), m)
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ImageSetError, match="junk.png"):
        read_mask(tmp_path / "junk.png")


def test_jpeg_ringing_is_binary_and_soft_masks_are_not(tmp_path):
    m = np.zeros((120, 160), np.uint8)
    cv2.ellipse(m, (60, 50), (30, 20), 20, 0, 360, 255, -1)
    cv2.ellipse(m, (120, 90), (6, 4), 0, 0, 360, 255, -1)
    for q in (5, 30, 90):
        path = write(tmp_path / f"q{q}.jpg", np.dstack([m] * 3), params=[cv2.IMWRITE_JPEG_QUALITY, q])
        grey = mask_grey(path)
        if q < 50:
            assert np.count_nonzero((grey > 40) & (grey < 215)) > 50, "the JPEG must ring"
        assert is_binary(grey), q
        assert np.mean(binarise(grey) != (m > 0)) < 0.01
    aa = np.zeros((120, 160), np.uint8)
    cv2.ellipse(aa, (80, 60), (40, 25), 30, 0, 360, 255, -1, cv2.LINE_AA)
    assert is_binary(aa)
    assert not is_binary(cv2.GaussianBlur(m, (0, 0), 16))  # a soft, probability-like mask
    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (120, 160)).astype(np.uint8), (0, 0), 3)
    assert not is_binary(cv2.normalize(photo, None, 0, 255, cv2.NORM_MINMAX))
    assert not is_binary(np.tile(np.linspace(0, 255, 160).astype(np.uint8), (120, 1)))
    with pytest.raises(ValueError, match="not binary"):
        read_mask(write(tmp_path / "soft.png", cv2.GaussianBlur(m, (0, 0), 16)), strict=True)


# ---------------------------------------------------------------------------- import

def test_video_masks_by_frame_number(project, tmp_path):
    st = video(project)
    masks = {3: blob(3), 5: blob(5, n=1), 7: blob(7), 9: blob(9)}
    for name, f in (("frame_000003.png", 3), ("000005.png", 5), ("7.png", 7),
                    ("clip_9_mask.png", 9)):
        write(tmp_path / "m" / name, masks[f])
    events = []
    report = drain(import_mask_folder(project, st, tmp_path / "m", user="dr_a"), events.append)
    assert (report.added, report.replaced, report.unchanged, report.problems) == (4, 0, 0, ())
    got = stored(project, st.id)
    assert sorted(got) == [3, 5, 7, 9]
    assert all(np.array_equal(got[f], masks[f]) for f in masks)
    a = project.annotations(st.id, kind="mask")[0]
    assert (a.source, a.user, a.kind) == ("expert", "dr_a", "mask")
    assert events[-1].__class__.__name__ == "Progress" and events[-1].done == 4
    assert report.to_dict()["imported"] == 4 and report.study_ids == (st.id,)


def test_each_bad_file_is_reported_and_the_rest_imported(project, tmp_path):
    st = video(project)
    other = video(project, name="other")
    d = tmp_path / "m"
    good = {1: blob(1), 2: blob(2)}
    write(d / "1.png", good[1])
    write(d / "frame_000001.png", blob(11))                     # a second mask for frame 1
    write(d / "frame_000002.png", good[2])
    write(d / "frame_000099.png", blob(4))                      # no frame 99 (12 frames)
    write(d / "notes_mask.png", blob(4))                        # no number, no frame
    write(d / "frame_000004.png", blob(4, h=H + 2))             # another size
    write(d / "frame_000005.png", np.zeros((H, W), bool))       # empty: kept as truth
    write(d / "frame_000006.png", np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1)))
    (d / "frame_000007.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # unreadable
    (d / "readme.txt").write_text("not a mask")
    # what the project holds already must survive
    keep = project.add_annotation(st.id, "mask", Mask(blob(8)), frame=8)
    box = project.add_annotation(st.id, "box", Box(1, 1, 5, 5), frame=4)
    theirs = project.add_annotation(other.id, "mask", Mask(blob(3)), frame=3)
    events = []
    report = drain(import_mask_folder(project, st.id, d), events.append)
    by_file = {p.entry: p.code for p in report.problems}
    assert by_file == {"frame_000001.png": "duplicate", "frame_000099.png": "name",
                       "notes_mask.png": "name", "frame_000004.png": "size",
                       "frame_000005.png": "empty", "frame_000006.png": "non_binary",
                       "frame_000007.png": "unreadable"}
    assert {p.entry for p in report.refused} == set(by_file) - {"frame_000005.png"}
    assert report.n_entries == 9 and (report.added, report.empty) == (3, 1)
    got = stored(project, st.id)
    assert sorted(got) == [1, 2, 5, 8]
    assert np.array_equal(got[1], good[1]) and np.array_equal(got[2], good[2])
    assert not got[5].any()
    assert project.annotation(keep.id).geometry == keep.geometry
    assert project.annotation(box.id).geometry == Box(1, 1, 5, 5)
    assert project.annotation(theirs.id).geometry == theirs.geometry
    text = " ".join(e.message for e in events if isinstance(e, Notice))
    assert "readme.txt" in text and "frame_000007.png" in text and "frame_000004.png" in text
    d2 = report.to_dict()
    assert d2["refused"] == 6 and d2["problem_counts"]["name"] == 2


def test_non_binary_can_be_accepted(project, tmp_path):
    st = video(project)
    ramp = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    write(tmp_path / "m" / "0.png", ramp)
    report = drain(import_mask_folder(project, st, tmp_path / "m", accept_non_binary=True))
    assert [(p.code, p.imported) for p in report.problems] == [("non_binary", True)]
    assert np.array_equal(stored(project, st.id)[0], ramp >= 128)


def test_replacing_a_mask_is_an_undoable_update_and_reimport_changes_nothing(project, tmp_path):
    st = video(project)
    old = project.add_annotation(st.id, "mask", Mask(blob(1)), frame=1, user="dr_old")
    new = blob(21)
    write(tmp_path / "m" / "1.png", new)
    write(tmp_path / "m" / "2.png", blob(2))
    history = AnnotationHistory(project, user="dr_new")
    report = drain(import_mask_folder(project, st, tmp_path / "m", history=history))
    assert (report.added, report.replaced, report.unchanged) == (1, 1, 0)
    now = project.annotation(old.id)  # updated in place: same id, new geometry and author
    assert np.array_equal(now.geometry.array, new) and now.user == "dr_new"
    log = project.annotation_history(annotation_id=old.id)
    assert log[0].geometry == old.geometry and log[-1].geometry == Mask(new)
    history.undo()  # the whole import is one step
    assert stored(project, st.id).keys() == {1}
    assert project.annotation(old.id).geometry == old.geometry
    history.redo()
    n_events = len(project.annotation_history(st.id, kind="mask"))
    again = drain(import_mask_folder(project, st, tmp_path / "m"))
    assert (again.added, again.replaced, again.unchanged) == (0, 0, 2)
    assert len(project.annotation_history(st.id, kind="mask")) == n_events  # nothing written


def test_image_set_own_masks_per_image_size(project, tmp_path):
    root = image_set(tmp_path / "set", [(30, 40), (24, 36), (30, 40)], masks=[0, 1])
    st = drain(import_study(project, root, task="polyps", shipped_masks=False))
    report = drain(import_mask_folder(project, st))  # its own masks/ folder
    assert (report.added, report.problems) == (2, ())
    src = open_study(project, st)
    got = stored(project, st.id)
    assert sorted(got) == [0, 1]
    for i in (0, 1):
        assert np.array_equal(got[i], src.mask(i))
    # a mask of the first image's size given to the smaller second image is refused
    write(tmp_path / "more" / "img1.jpg", blob(5, 30, 40))
    write(tmp_path / "more" / "img2.png", blob(6, 30, 40))
    write(tmp_path / "more" / "img9.png", blob(6, 30, 40))
    report = drain(import_mask_folder(project, st, tmp_path / "more"))
    assert {p.entry: p.code for p in report.problems} == {"img1.jpg": "size", "img9.png": "name"}
    assert report.added == 1 and np.array_equal(stored(project, st.id)[1], src.mask(1))


def test_unusable_folders_and_moved_studies_import_nothing(project, tmp_path):
    st = video(project)
    with pytest.raises(ImageSetError, match="cannot be listed"):
        drain(import_mask_folder(project, st, tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageSetError, match="no mask images"):
        drain(import_mask_folder(project, st, tmp_path / "empty"))
    with pytest.raises(ValueError, match="no masks folder"):
        drain(import_mask_folder(project, st))
    root = image_set(tmp_path / "set", [(30, 40)], masks=[0])
    ims = drain(import_study(project, root, task="polyps", shipped_masks=False))
    shutil.copytree(root / "masks", tmp_path / "saved")
    shutil.rmtree(root)
    with pytest.raises(StudyMissingError):
        drain(import_mask_folder(project, ims, tmp_path / "saved"))
    assert project.annotations(kind="mask") == []


# ---------------------------------------------------------------------------- export

def test_export_then_import_into_a_fresh_project_is_exact(project, tmp_path):
    st = video(project, name="clip:1")  # a name that is not a safe folder name
    masks = {0: blob(0), 4: np.zeros((H, W), bool), 11: blob(11, n=3)}
    for f, m in masks.items():
        project.add_annotation(st.id, "mask", Mask(m), frame=f)
    root = image_set(tmp_path / "set", [(30, 40), (24, 36)], masks=[0, 1])
    ims = drain(import_study(project, root, task="polyps", shipped_masks=False))
    drain(import_mask_folder(project, ims))
    report = drain(export_mask_folder(project, [st.id, ims.id], tmp_path / "out"))
    assert report.files == {"clip:1": ("clip_1/000000.png", "clip_1/000004.png",
                                       "clip_1/000011.png"),
                            "set": ("set/img0.png", "set/img1.png")}
    assert report.n_masks == 5 and report.to_dict()["n_masks"] == 5
    png = cv2.imread(str(tmp_path / "out" / "clip_1" / "000011.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and set(np.unique(png)) <= {0, 255}
    with Project.create(tmp_path / "fresh") as p2:
        st2 = video(p2, name="clip:1")
        ims2 = drain(import_study(p2, root, task="polyps", shipped_masks=False))
        drain(import_mask_folder(p2, st2, tmp_path / "out" / "clip_1"))
        drain(import_mask_folder(p2, ims2, tmp_path / "out" / "set"))
        for a, b in ((st, st2), (ims, ims2)):
            want, got = stored(project, a.id), stored(p2, b.id)
            assert want.keys() == got.keys()
            assert all(np.array_equal(want[f], got[f]) for f in want)


def test_kvasir_masks_import_and_round_trip(project, tmp_path):
    if not (KVASIR / "masks").is_dir():
        pytest.skip("the Kvasir-SEG sample is absent")
    st = drain(import_study(project, KVASIR, task="polyps", shipped_masks=False))
    report = drain(import_mask_folder(project, st, KVASIR / "masks"))
    assert (report.added, report.problems) == (5, ())  # lossy JPEG masks are binary
    src = open_study(project, st)
    got = stored(project, st.id)
    for i in range(5):
        assert np.array_equal(got[i], src.mask(i))
    two = src.index.files.index("cju0roawvklrq0799vmjorwfv.jpg")
    n, _, stats, _ = cv2.connectedComponentsWithStats(got[two].astype(np.uint8), connectivity=8)
    assert (stats[1:, cv2.CC_STAT_AREA] >= 50).sum() == 2
    drain(export_mask_folder(project, [st.id], tmp_path / "out"))
    with Project.create(tmp_path / "fresh") as p2:
        st2 = drain(import_study(p2, KVASIR, task="polyps", shipped_masks=False))
        again = drain(import_mask_folder(p2, st2, tmp_path / "out" / st.name))
        assert again.added == 5
        back = stored(p2, st2.id)
        assert all(np.array_equal(back[i], got[i]) for i in range(5))
