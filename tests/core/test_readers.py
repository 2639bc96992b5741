"""The reader registry: the right reader for each input, clear refusals, image sets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.cli import EXIT_INPUT, main
from core.events import Notice, Progress, drain
from core.io import (
    FrameSource,
    StudyInfo,
    UnsupportedInputError,
    reader_for,
    reader_for_kind,
    readers,
    register_reader,
    supported_inputs,
)
from core.io.images import ImageSetError, ImageSetReader, ImageSetSource
from core.io.video.reader import FrameFolderReader, VideoReader

KVASIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "kvasir_seg"


def scan(path):
    """(studies, events) of scanning ``path`` with the reader the registry picks."""
    events: list[object] = []
    infos = drain(reader_for(path).scan(Path(path)), events.append)
    return infos, events


def write_video(path: Path, n: int = 12, size=(48, 64)) -> Path:
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, size[::-1])
    assert writer.isOpened()
    for _ in range(n):
        writer.write(rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    writer.release()
    return path


def write_frames(folder: Path, n: int = 5, size=(40, 50)) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        cv2.imwrite(str(folder / f"frame{i}.png"), rng.integers(0, 256, (*size, 3), np.uint8))
    return folder


def write_image_set(root: Path, sizes, *, masks=None, orphans=(), mask_ext=".png") -> Path:
    """``images/img{i}.jpg|png`` of ``sizes`` (rows, cols) and ``masks/img{i}`` for the
    indices in ``masks``: a filled rectangle (255) on 0 plus a 127 band (background)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(2)
    for i, (h, w) in enumerate(sizes):
        ext = ".png" if i % 2 else ".jpg"
        cv2.imwrite(str(root / "images" / f"img{i}{ext}"),
                    rng.integers(0, 256, (h, w, 3), np.uint8))
    for i in range(len(sizes)) if masks is None else masks:
        h, w = sizes[i]
        m = np.zeros((h, w), np.uint8)
        m[h // 4:h // 2, w // 4:w // 2] = 255
        m[: h // 8] = 127  # just under half range: background
        m[-2:] = 128  # exactly half range: foreground
        cv2.imwrite(str(root / "masks" / f"img{i}{mask_ext}"), m)
    for name in orphans:
        cv2.imwrite(str(root / "masks" / name), np.zeros((8, 8), np.uint8))
    return root


@pytest.fixture
def registry():
    """Restore the registry after a test that registers readers."""
    saved = readers()
    yield
    for r in readers():
        if r not in saved:
            from core.io import registry as mod

            mod._READERS.remove(r)


# -- which reader -------------------------------------------------------------------------

def test_registry_order_and_descriptions():
    names = [r.name for r in readers()]
    assert names.index("images") < names.index("frames") < names.index("video")
    assert len(supported_inputs()) == len(names) and all(supported_inputs())


def test_picks_video_frame_folder_and_image_set(tmp_path):
    video = write_video(tmp_path / "clip.mp4")
    frames = write_frames(tmp_path / "frames")
    images = write_image_set(tmp_path / "set", [(30, 40), (30, 40)])
    assert isinstance(reader_for(video), VideoReader)
    assert isinstance(reader_for(frames), FrameFolderReader)
    assert isinstance(reader_for(images), ImageSetReader)
    # the images/ folder itself is a plain folder of frames
    assert isinstance(reader_for(images / "images"), FrameFolderReader)


def test_folder_holding_images_dir_is_an_image_set_even_with_frames_beside(tmp_path):
    root = write_image_set(tmp_path / "set", [(30, 40)])
    cv2.imwrite(str(root / "cover.png"), np.zeros((5, 5, 3), np.uint8))
    assert FrameFolderReader().can_read(root)  # both could: the order decides
    assert isinstance(reader_for(root), ImageSetReader)
    (infos, _) = scan(root)
    assert [i.kind for i in infos] == ["images"] and infos[0].n_frames == 1


@pytest.mark.skipif(not KVASIR.is_dir(), reason="../shared/testdata/kvasir_seg absent")
def test_picks_image_set_for_kvasir_sample():
    assert isinstance(reader_for(KVASIR), ImageSetReader)


def test_reader_for_kind():
    assert isinstance(reader_for_kind("video"), VideoReader)
    assert isinstance(reader_for_kind("frames"), FrameFolderReader)
    assert isinstance(reader_for_kind("folder"), FrameFolderReader)  # first release's kind
    assert isinstance(reader_for_kind("images"), ImageSetReader)
    assert reader_for_kind("ct_series").name == "dicom"
    with pytest.raises(ValueError, match="us_cine.*known kinds: .*video"):
        reader_for_kind("us_cine")


@pytest.mark.parametrize("name, content", [
    ("notes.txt", b"a study list\n"),
    ("labels.csv", b"study,frame,label\n1,2,informative\n"),
    ("blob", bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8))),
    ("empty.bin", b""),
])
def test_refuses_files_no_reader_takes_naming_file_and_kinds(tmp_path, name, content):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(UnsupportedInputError) as err:
        reader_for(f)
    msg = str(err.value)
    assert f"\u201c{name}\u201d" in msg and str(f) in msg
    assert all(d in msg for d in supported_inputs())
    assert not err.value.missing and err.value.path == str(f)


def test_refuses_empty_and_unrelated_folders(tmp_path):
    empty = tmp_path / "nothing here"
    empty.mkdir()
    with pytest.raises(UnsupportedInputError, match="nothing here.*folder is empty") as err:
        reader_for(empty)
    assert all(d in str(err.value) for d in supported_inputs())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "readme.txt").write_text("hello")
    with pytest.raises(UnsupportedInputError, match="docs.*nothing in it"):
        reader_for(docs)


def test_missing_path_has_its_own_message(tmp_path):
    gone = tmp_path / "gone.mp4"
    with pytest.raises(UnsupportedInputError, match="gone.mp4.*was not found") as err:
        reader_for(gone)
    assert err.value.missing and "Supported" not in str(err.value)


def test_a_registered_reader_is_asked_in_its_place(tmp_path, registry):
    class TextReader:
        name, kinds, description = "text", ("text",), "text notes (.txt)"

        def can_read(self, path):
            return Path(path).suffix == ".txt"

        def scan(self, path):
            yield Progress("scan", 1, 1)
            return [StudyInfo(str(path), "text", "n", 1, 1, 1, 0.0, "h")]

        def open(self, study, *, index=None, cache_frames=256):
            raise NotImplementedError

    f = tmp_path / "n.txt"
    f.write_text("x")
    register_reader(TextReader(), before="video")
    assert [r.name for r in readers()][-2:] == ["text", "video"]
    assert reader_for(f).name == "text" and reader_for_kind("text").name == "text"
    assert "text notes (.txt)" in supported_inputs()
    with pytest.raises(TypeError):
        register_reader(object())
    with pytest.raises(ValueError, match="no reader named 'nonexistent'"):
        register_reader(TextReader(), before="nonexistent")


# -- scans and sources ----------------------------------------------------------------------

def test_video_and_frame_folder_scan_and_open_round_trip(tmp_path):
    video = write_video(tmp_path / "clip.mp4")
    (info,), _ = scan(video)
    assert (info.kind, info.name, info.n_frames, info.height, info.width) == (
        "video", "clip", 12, 48, 64)
    with reader_for_kind(info.kind).open(info) as src:
        assert isinstance(src, FrameSource) and src.n_frames == 12
    folder = write_frames(tmp_path / "frames")
    (info,), _ = scan(folder)
    assert (info.kind, info.n_frames, info.fps) == ("frames", 5, 0.0)
    with reader_for_kind(info.kind).open(info) as src:
        for i in (4, 0, 2):
            want = cv2.cvtColor(cv2.imread(str(folder / f"frame{i}.png")), cv2.COLOR_BGR2RGB)
            np.testing.assert_array_equal(src.read(i), want)


def test_image_set_scan_meta_and_round_trip(tmp_path):
    sizes = [(30, 40), (50, 20), (30, 40)]
    root = write_image_set(tmp_path / "set", sizes)
    (info,), events = scan(root)
    names = ["img0.jpg", "img1.png", "img2.jpg"]
    assert (info.kind, info.name, info.n_frames, (info.height, info.width), info.fps) == (
        "images", "set", 3, sizes[0], 0.0)
    assert info.meta["images"] == names
    assert info.meta["masks"] == ["img0.png", "img1.png", "img2.png"]
    assert not [e for e in events if isinstance(e, Notice)]
    with ImageSetReader().open(info, cache_frames=2) as src:
        assert isinstance(src, ImageSetSource) and isinstance(src, FrameSource)
        assert len(src) == 3 and src.shape == sizes[0]
        for _ in range(2):  # second pass: from the cache, still equal and not shared
            for i in (2, 0, 1):
                img = src.read(i)
                want = cv2.cvtColor(cv2.imread(str(root / "images" / names[i])),
                                    cv2.COLOR_BGR2RGB)
                assert img.dtype == np.uint8 and img.shape == (*sizes[i], 3)
                np.testing.assert_array_equal(img, want)
                img[:] = 0
        np.testing.assert_array_equal(src.read_many([2, 0, 2])[1], src.read(0))
        with pytest.raises(ValueError, match="differ in size"):
            src.read_many([0, 1])
        with pytest.raises(IndexError, match="outside 0..2"):
            src.read(3)
    with pytest.raises(ValueError, match="closed"):
        src.read(0)


def test_image_set_masks_binarised_at_half_range(tmp_path):
    sizes = [(32, 48), (40, 40)]
    root = write_image_set(tmp_path / "set", sizes, masks=[0])
    (info,), _ = scan(root)
    with ImageSetReader().open(info) as src:
        m = src.mask(0)
        assert m.dtype == bool and m.shape == sizes[0]
        assert not m[:4].any() and m[-2:].all()  # grey 127 is background, 128 foreground
        assert m[8:16, 12:24].all() and m.sum() == 8 * 12 + 2 * 48
        assert src.mask(1) is None and not src.has_mask(1) and src.has_mask(0)
    # JPEG masks (Kvasir-SEG's): grey levels as decoded, thresholded at 128
    jpg = write_image_set(tmp_path / "jpg", sizes, masks=[1], mask_ext=".jpg")
    (info,), _ = scan(jpg)
    with ImageSetReader().open(info) as src:
        grey = cv2.imread(str(jpg / "masks" / "img1.jpg"), cv2.IMREAD_GRAYSCALE)
        assert ((grey > 0) & (grey < 255)).any()  # JPEG did leave grey levels to decide
        np.testing.assert_array_equal(src.mask(1), grey >= 128)


def test_mask_of_another_size_is_named(tmp_path):
    root = write_image_set(tmp_path / "set", [(30, 40)], masks=[])
    cv2.imwrite(str(root / "masks" / "img0.png"), np.zeros((10, 10), np.uint8))
    (info,), _ = scan(root)
    with ImageSetReader().open(info) as src, pytest.raises(ImageSetError, match="img0.png"):
        src.mask(0)


def test_image_set_mismatches_are_reported_by_name(tmp_path):
    root = write_image_set(tmp_path / "set", [(20, 20)] * 4, masks=[0, 2],
                           orphans=("stray.png", "other.jpg"))
    (info,), events = scan(root)
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert all(e.level == "warning" for e in events if isinstance(e, Notice))
    no_mask = next(n for n in notices if "no mask" in n)
    assert "2 of 4" in no_mask and "img1.png" in no_mask and "img3.png" in no_mask
    assert "img0" not in no_mask
    no_image = next(n for n in notices if "no image" in n)
    assert "stray.png" in no_image and "other.jpg" in no_image
    assert info.meta["masks"] == ["img0.png", None, "img2.png", None]
    assert info.meta["n_masks"] == 2


def test_image_set_without_masks_folder_and_bad_files(tmp_path):
    root = tmp_path / "set"
    (root / "Images").mkdir(parents=True)  # any case
    cv2.imwrite(str(root / "Images" / "a.png"), np.zeros((6, 7, 3), np.uint8))
    (info,), events = scan(root)
    assert info.meta["masks"] == [None] and info.meta["masks_dir"] is None
    assert not [e for e in events if isinstance(e, Notice)]
    (root / "Images" / "b.jpg").write_text("not a jpeg")
    with pytest.raises(ImageSetError, match="b.jpg.*not a readable image"):
        scan(root)
    empty = tmp_path / "empty set"
    (empty / "images").mkdir(parents=True)
    with pytest.raises(ImageSetError, match="empty set.*no images"):
        scan(empty)


def test_image_set_content_hash_follows_content_not_place(tmp_path):
    a = write_image_set(tmp_path / "a", [(20, 20)] * 2)
    (ia,), _ = scan(a)
    b = shutil.copytree(a, tmp_path / "b")
    (ib,), _ = scan(b)
    assert ia.content_hash == ib.content_hash
    cv2.imwrite(str(b / "masks" / "img1.png"), np.full((20, 20), 255, np.uint8))
    (ib2,), _ = scan(b)
    assert ib2.content_hash != ia.content_hash


@pytest.mark.skipif(not KVASIR.is_dir(), reason="../shared/testdata/kvasir_seg absent")
def test_kvasir_sample_sizes_masks_and_pixels():
    (info,), events = scan(KVASIR)
    stats = json.loads((KVASIR / "mask_stats_thr128.json").read_text())
    assert info.n_frames == len(stats) == 5
    assert sorted(info.meta["images"]) == sorted(stats)
    assert info.meta["masks"] == info.meta["images"]  # Kvasir masks: same names, JPEG
    assert not [e for e in events if isinstance(e, Notice)]
    with ImageSetReader().open(info) as src:
        for i, name in enumerate(info.meta["images"]):
            img = src.read(i)
            want = cv2.cvtColor(cv2.imread(str(KVASIR / "images" / name)), cv2.COLOR_BGR2RGB)
            np.testing.assert_array_equal(img, want)
            assert list(img.shape[1::-1]) == stats[name]["size_wh"]
            m = src.mask(i)
            assert m.shape == img.shape[:2] and int(m.sum()) == stats[name]["fg_px_thr128"]
        assert src.shape == (info.height, info.width) == src.read(0).shape[:2]


# -- import into a project, open from the stored index ----------------------------------------

@pytest.fixture
def project(tmp_path):
    from core.store import Project

    p = Project.create(tmp_path / "proj")
    yield p
    p.close()


def test_import_image_set_stores_meta_and_index_and_opens_with_masks(tmp_path, project):
    from core.io.importer import import_path, import_study, open_study

    root = write_image_set(tmp_path / "polyps", [(30, 40), (36, 44), (30, 40)], masks=[0, 2])
    events: list[object] = []
    study = drain(import_study(project, root, split="test", subject="patient-7"),
                  events.append)
    assert any(isinstance(e, Notice) and "img1.png" in e.message for e in events)
    assert (study.kind, study.task, study.n_frames, study.split, study.subject) == (
        "images", "frame_quality", 3, "test", "patient-7")
    assert study.meta["masks"] == ["img0.png", None, "img2.png"]
    assert json.loads(project.study_index(study.id))["files"] == study.meta["images"]
    with open_study(project, study) as src:
        assert isinstance(src, ImageSetSource)
        np.testing.assert_array_equal(
            src.read(1), cv2.cvtColor(cv2.imread(str(root / "images" / "img1.png")),
                                      cv2.COLOR_BGR2RGB))
        assert src.mask(2).sum() == 8 * 10 + 2 * 40 and src.mask(1) is None
    # importing again is idempotent by content; import_path gives the list
    again = drain(import_path(project, root, split="test", subject="patient-7"))
    assert [s.id for s in again] == [study.id] and len(project.studies()) == 1


def test_import_video_and_frame_folder_kinds(tmp_path, project):
    from core.io.importer import import_study, open_study

    video = drain(import_study(project, write_video(tmp_path / "clip.mp4")))
    folder = drain(import_study(project, write_frames(tmp_path / "frames")))
    assert (video.kind, folder.kind) == ("video", "frames")
    assert json.loads(project.study_index(video.id))["kind"] == "video"
    with open_study(project, folder) as src:
        assert src.n_frames == 5 and src.shape == (40, 50)


def test_moved_study_gets_a_clear_message_and_reimport_relinks_it(tmp_path, project):
    from core.io.importer import StudyMissingError, import_study, open_study
    from core.store import ProjectError

    root = write_image_set(tmp_path / "polyps", [(30, 40)] * 2)
    study = drain(import_study(project, root))
    moved = root.rename(tmp_path / "elsewhere")
    with pytest.raises(StudyMissingError) as err:
        open_study(project, project.study(study.id))
    msg = str(err.value)
    assert "\u201cpolyps\u201d" in msg and str(root) in msg and "Import it again" in msg
    assert isinstance(err.value, ProjectError) and isinstance(err.value, FileNotFoundError)
    relinked = drain(import_study(project, moved))
    assert relinked.id == study.id and relinked.path == str(moved)
    with open_study(project, relinked) as src:
        assert src.n_frames == 2

    video = drain(import_study(project, write_video(tmp_path / "clip.mp4")))
    Path(video.path).unlink()
    with pytest.raises(StudyMissingError, match="clip.mp4"):
        open_study(project, video)


def test_import_refuses_before_touching_the_project(tmp_path, project):
    from core.io.importer import import_study

    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(UnsupportedInputError, match="notes.txt"):
        drain(import_study(project, f))
    assert project.studies() == []


# -- CLI --------------------------------------------------------------------------------

def test_cli_import_refuses_unsupported_file_without_creating_project(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    proj = tmp_path / "p"
    assert main(["import", "--project", str(proj), str(f)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "notes.txt" in err and all(d in err for d in supported_inputs())
    assert not proj.exists()
    assert main(["import", "--project", str(proj), str(tmp_path / "gone")]) == EXIT_INPUT
    assert "was not found" in capsys.readouterr().err


def test_two_masks_of_one_stem_keep_the_first_and_name_the_other(tmp_path):
    root = write_image_set(tmp_path / "set", [(20, 20)], masks=[0])
    cv2.imwrite(str(root / "masks" / "img0.jpg"), np.zeros((20, 20), np.uint8))
    (info,), events = scan(root)
    assert info.meta["masks"] == ["img0.jpg"]  # natural order: .jpg before .png
    (notice,) = [e.message for e in events if isinstance(e, Notice)]
    assert "share a name" in notice and "img0.png" in notice
