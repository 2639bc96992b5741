"""COCO JSON: RLE and polygons against pycocotools' numbers, export (components, boxes,
candidates, de-identified), import (bad entries per entry, nothing lost) and exact
round trips, including a frame with two polyps and the real Kvasir-SEG sample."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.events import drain
from core.io.coco import CocoError, export_coco, import_coco
from core.io.coco_rle import (
    CocoSegmentationError,
    components,
    decode_segmentation,
    polygons_to_mask,
    rle_decode,
    rle_encode,
    string_to_counts,
)
from core.io.importer import import_study, open_study
from core.io.masks import import_mask_folder
from core.store import Candidate, Mask, Project
from core.store.history import AnnotationHistory

KVASIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "kvasir_seg"
H, W = 30, 40


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as p:
        yield p


def video(project, name="clip", n=10):
    return project.add_study(f"/secret/patient_x/{name}.mp4", f"h-{name}", "video", "polyps", n,
                             25.0, H, W, name=name, subject="patient-0042")


def image_set(root: Path, sizes) -> Path:
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(len(sizes))
    for i, (h, w) in enumerate(sizes):
        cv2.imwrite(str(root / "images" / f"img{i}.png"),
                    rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    return root


def two_polyps(h=H, w=W):
    m = np.zeros((h, w), bool)
    m[3:12, 4:15] = True
    m[12, 15] = True  # touches the first only diagonally: still the same polyp (8-connected)
    m[18:27, 25:37] = True
    m[20:23, 29:33] = False  # a hole
    return m


def stored(project, study_id):
    return {a.frame: a.geometry.array for a in project.annotations(study_id, kind="mask")}


def write_json(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


# ---------------------------------------------------------------------------- RLE, polygons

def test_rle_matches_pycocotools_strings():
    m = np.zeros((4, 5), bool)
    m[1:3, 1:4] = True
    m[0, 4] = True
    rle = rle_encode(m)
    assert rle == {"size": [4, 5], "counts": "522000OO2"}  # pycocotools 2.0.11
    assert rle_encode(m, compressed=False) == {"size": [4, 5], "counts": [5, 2, 2, 2, 2, 2, 1, 1, 3]}
    big = np.zeros((600, 500), bool)
    big[0, 0] = big[599, 499] = True
    big[5:595, 3] = True
    big[300, 200:203] = True  # large and negative differences between counts
    assert rle_encode(big)["counts"] == "01\\h1]b0U\\a3c]OV^]L000[g]50"
    for mask in (m, big, np.ones((3, 2), bool), np.zeros((2, 3), bool)):
        assert np.array_equal(rle_decode(rle_encode(mask)), mask)
        assert np.array_equal(rle_decode(rle_encode(mask, compressed=False)), mask)
    with pytest.raises(CocoSegmentationError, match="size"):  # refused before allocating
        decode_segmentation({"size": [10**5, 10**5], "counts": [10**10]}, 30, 40)
    assert string_to_counts("522000OO2") == [5, 2, 2, 2, 2, 2, 1, 1, 3]
    for bad in ({"size": [4, 5], "counts": [5, 2]}, {"size": [4, 5], "counts": "52 "},
                {"size": [4, 5], "counts": "O"}, {"size": [0, 5], "counts": []},
                {"size": [4, 5], "counts": [21, -1]}, {"counts": "5"}, [1, 2]):
        with pytest.raises(CocoSegmentationError):
            rle_decode(bad)


def test_polygons_fill_as_pycocotools():
    rect = polygons_to_mask([[10, 10, 30, 10, 30, 20, 10, 20]], 40, 40)
    assert rect.sum() == 200 and rect[10:20, 10:30].all()  # pixels [10, 30) x [10, 20)
    tri = polygons_to_mask([[2.5, 1.0, 9.0, 3.5, 4.0, 8.25]], 10, 12)
    assert rle_encode(tri)["counts"] == "o0561NO2N1O1Ol0" and tri.sum() == 22  # pycocotools
    union = polygons_to_mask([[0, 0, 4, 0, 4, 4, 0, 4], [6, 6, 9, 6, 9, 9, 6, 9]], 10, 10)
    assert union.sum() == 16 + 9
    for bad in ([], [[1, 2, 3, 4]], [[1, 2, 3, 4, 5]], [[0, 0, 1, 1, float("nan"), 2]],
                [[0, 0, 1e12, 0, 1, 1]], [["a", 0, 1, 1, 2, 2]], "x"):
        with pytest.raises(CocoSegmentationError):
            polygons_to_mask(bad, 10, 10)


def test_components_are_8_connected_with_tight_boxes():
    comps = components(two_polyps())
    assert [(bbox, area) for _, bbox, area in comps] == [
        ([4, 3, 12, 10], 9 * 11 + 1), ([25, 18, 12, 9], 9 * 12 - 12)]
    assert np.array_equal(comps[0][0] | comps[1][0], two_polyps())


# ---------------------------------------------------------------------------- round trips

def make_source_project(project, tmp_path):
    """A video with two polyps on frame 2, an empty mask on 5, candidates on 2 and 7 (a
    frame without a mask), and an image set of two sizes with masks."""
    st = video(project)
    project.add_annotation(st.id, "mask", Mask(two_polyps()), frame=2)
    project.add_annotation(st.id, "mask", Mask(np.zeros((H, W), bool)), frame=5)
    one = np.zeros((H, W), bool)
    one[0:4, 0:6] = True  # at the corner: the RLE starts with a foreground run
    project.add_annotation(st.id, "mask", Mask(one), frame=9)
    project.put_candidates(st.id, "polyp-vote", "1", [
        Candidate(2, (7.0, 9.0), (2.0, 3.0, 12.0, 16.0), score=0.9),
        Candidate(7, (10.0, 10.0), (5.0, 5.0, 15.5, 15.0)),
    ])
    root = image_set(tmp_path / "set", [(30, 40), (24, 36)])
    ims = drain(import_study(project, root, task="polyps", shipped_masks=False))
    m1 = np.zeros((24, 36), bool)
    m1[5:20, 2:9] = True
    m1[1:3, 30:34] = True
    project.add_annotation(ims.id, "mask", Mask(m1), frame=1)
    return st, ims, root


def test_export_document(project, tmp_path):
    st, ims, _ = make_source_project(project, tmp_path)
    rep = drain(export_coco(project, [st.id, ims.id], tmp_path / "c.json"))
    assert rep.to_dict() == {"path": str(tmp_path / "c.json"), "n_studies": 2, "n_images": 5,
                             "n_polyps": 5, "n_candidates": 2}
    text = (tmp_path / "c.json").read_text()
    assert "secret" not in text and "patient" not in text  # de-identified by default
    doc = json.loads(text)
    assert [c["name"] for c in doc["categories"]] == ["polyp", "candidate"]
    assert [(i["file_name"], i["width"], i["height"], i["has_mask"]) for i in doc["images"]] == [
        ("clip/000002.png", 40, 30, True), ("clip/000005.png", 40, 30, True),
        ("clip/000007.png", 40, 30, False), ("clip/000009.png", 40, 30, True),
        ("set/img1.png", 36, 24, True)]
    on2 = [a for a in doc["annotations"] if a["image_id"] == 1]
    polyps = [a for a in on2 if a["category_id"] == 1]
    assert [(a["bbox"], a["area"], a["iscrowd"]) for a in polyps] == [
        ([4, 3, 12, 10], 100, 0), ([25, 18, 12, 9], 96, 0)]
    cand = [a for a in on2 if a["category_id"] == 2]
    assert cand[0]["bbox"] == [3.0, 2.0, 13.0, 10.0] and cand[0]["score"] == 0.9
    unscored = [a for a in doc["annotations"] if a["image_id"] == 3]
    assert len(unscored) == 1 and "score" not in unscored[0]
    drain(export_coco(project, [st.id], tmp_path / "id.json", deidentify=False,
                      include_candidates=False))
    doc = json.loads((tmp_path / "id.json").read_text())
    assert doc["images"][0]["path"] == "/secret/patient_x/clip.mp4"
    assert doc["images"][0]["subject"] == "patient-0042"
    assert [c["name"] for c in doc["categories"]] == ["polyp"] and len(doc["images"]) == 3


def test_round_trip_into_a_fresh_project_is_exact(project, tmp_path):
    st, ims, root = make_source_project(project, tmp_path)
    drain(export_coco(project, [st.id, ims.id], tmp_path / "c.json"))
    with Project.create(tmp_path / "fresh") as p2:
        st2 = video(p2)
        ims2 = drain(import_study(p2, root, task="polyps", shipped_masks=False))
        report = drain(import_coco(p2, tmp_path / "c.json"))
        assert report.problems == () and (report.added, report.empty) == (4, 1)
        for a, b in ((st, st2), (ims, ims2)):
            want, got = stored(project, a.id), stored(p2, b.id)
            assert want.keys() == got.keys()  # frame 7 (candidates only) gets no mask
            assert all(np.array_equal(want[f], got[f]) for f in want)
        assert p2.candidates(st2.id) == []  # candidates are not imported as truth
        again = drain(import_coco(p2, tmp_path / "c.json"))
        assert (again.added, again.replaced, again.unchanged) == (0, 0, 4)


def test_kvasir_round_trip(project, tmp_path):
    if not (KVASIR / "masks").is_dir():
        pytest.skip("the Kvasir-SEG sample is absent")
    st = drain(import_study(project, KVASIR, task="polyps", shipped_masks=False))
    drain(import_mask_folder(project, st, KVASIR / "masks"))
    rep = drain(export_coco(project, [st.id], tmp_path / "k.json"))
    doc = json.loads((tmp_path / "k.json").read_text())
    two = next(i["id"] for i in doc["images"] if i["file_name"].endswith("cju0roawvklrq0799vmjorwfv.jpg"))
    big = [a for a in doc["annotations"] if a["image_id"] == two and a["area"] >= 50]
    assert len(big) == 2  # the sample's two polyps (plus a speck under 50 pixels)
    assert rep.n_images == 5
    with Project.create(tmp_path / "fresh") as p2:
        st2 = drain(import_study(p2, KVASIR, task="polyps", shipped_masks=False))
        report = drain(import_coco(p2, tmp_path / "k.json"))
        assert report.problems == () and report.added == 5
        src = open_study(p2, st2)
        got = stored(p2, st2.id)
        assert all(np.array_equal(got[i], src.mask(i)) for i in range(5))


# ---------------------------------------------------------------------------- bad input

def test_bad_entries_are_reported_and_the_rest_imported(project, tmp_path):
    st = video(project)
    other = video(project, name="other")
    keep = project.add_annotation(st.id, "mask", Mask(two_polyps()), frame=8)
    theirs = project.add_annotation(other.id, "mask", Mask(two_polyps()), frame=1)
    old = project.add_annotation(st.id, "mask", Mask(np.ones((H, W), bool)), frame=0)
    sq = [1, 1, 6, 1, 6, 6, 1, 6]
    rle = rle_encode(two_polyps(), compressed=False)
    doc = {
        "categories": [{"id": 7, "name": "Polyp"}, {"id": 8, "name": "candidate"}],
        "images": [
            {"id": 1, "file_name": "clip/000000.png", "width": W, "height": H},
            {"id": 2, "file_name": "clip/000001.png", "width": W, "height": H},
            {"id": 3, "file_name": "clip/000044.png", "width": W, "height": H},  # no frame 44
            {"id": 4, "file_name": "clip/000003.png", "width": W + 1, "height": H},  # size
            {"id": 5, "file_name": "clip/000004.png", "width": W, "height": H},
            {"id": 6, "file_name": "clip/000006.png", "width": W, "height": H},
            {"id": 7, "file_name": "clip/frame_1.png", "width": W, "height": H},  # frame 1 again
            {"id": 9, "file_name": "clip/000009.png", "width": W, "height": H},
            {"id": 9, "file_name": "clip/000002.png", "width": W, "height": H},  # id twice
            {"file_name": "clip/000002.png"},                                    # no id
            {"id": 10, "file_name": "clip/000007.png", "width": W, "height": H},  # empty
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "segmentation": rle},
            {"id": 2, "image_id": 2, "category_id": 7, "segmentation": [sq]},
            {"id": 3, "image_id": 2, "category_id": 7,
             "segmentation": [[20, 20, 30, 20, 30, 28, 20, 28]]},       # union with id 2
            {"id": 4, "image_id": 2, "category_id": 8, "bbox": [0, 0, 3, 3]},  # skipped
            {"id": 5, "image_id": 999, "category_id": 7, "segmentation": [sq]},  # unknown id
            {"id": 6, "image_id": 5, "category_id": 7, "bbox": [0, 0, 3, 3]},   # no seg.
            {"id": 7, "image_id": 5, "category_id": 7, "segmentation": [sq]},
            {"id": 8, "image_id": 6, "category_id": 7,
             "segmentation": {"size": [H, W], "counts": [3, 4]}},      # bad counts
            {"id": 9, "image_id": 3, "category_id": 7, "segmentation": [sq]},  # refused image
            {"image_id": "x"},
        ],
    }
    path = write_json(tmp_path / "bad.json", doc)
    history = AnnotationHistory(project, user="importer")
    report = drain(import_coco(project, path, study_ids=[st.id], history=history))
    by_entry = {p.entry: p.code for p in report.problems}
    assert by_entry == {
        "image 3 (clip/000044.png)": "name", "image 4 (clip/000003.png)": "size",
        "image 7 (clip/frame_1.png)": "duplicate", "image 9 (clip/000002.png)": "malformed",
        "image #9": "malformed", "annotation 5": "unknown_image",
        "annotation 6": "no_segmentation", "annotation 8": "malformed",
        "annotation #9": "malformed"}
    assert report.n_entries == 11 and (report.added, report.replaced, report.empty) == (2, 1, 1)
    got = stored(project, st.id)
    assert sorted(got) == [0, 1, 7, 8]
    assert np.array_equal(got[0], two_polyps())
    want1 = np.zeros((H, W), bool)
    want1[1:6, 1:6] = True
    want1[20:28, 20:30] = True
    assert np.array_equal(got[1], want1) and not got[7].any()
    assert project.annotation(keep.id).geometry == keep.geometry
    assert project.annotation(theirs.id).geometry == theirs.geometry
    history.undo()  # the import is one step: frame 0's old mask is back, the new ones go
    assert sorted(stored(project, st.id)) == [0, 8]
    assert project.annotation(old.id).geometry == old.geometry


def test_bare_names_find_their_study_by_stem(project, tmp_path):
    a = drain(import_study(project, image_set(tmp_path / "a", [(20, 30), (20, 30)]),
                           task="polyps", shipped_masks=False))
    b = drain(import_study(project, image_set(tmp_path / "b", [(20, 30)]), task="polyps", shipped_masks=False))
    sq = [[2, 2, 8, 2, 8, 8, 2, 8]]
    doc = {"images": [{"id": 1, "file_name": "img1.jpg", "width": 30, "height": 20},
                      {"id": 2, "file_name": "img0.png", "width": 30, "height": 20}],
           "annotations": [{"id": 1, "image_id": 1, "segmentation": sq},
                           {"id": 2, "image_id": 2, "segmentation": sq}]}
    path = write_json(tmp_path / "bare.json", doc)
    report = drain(import_coco(project, path))
    assert {p.entry: p.code for p in report.problems} == {"image 2 (img0.png)": "ambiguous"}
    assert sorted(stored(project, a.id)) == [1] and stored(project, b.id) == {}
    report = drain(import_coco(project, path, study_map={"": b.id}))
    assert {p.code for p in report.problems} == {"name"}  # b has no img1
    assert sorted(stored(project, b.id)) == [0]
    report = drain(import_coco(project, path, study_ids=[a.id]))
    assert report.problems == () and sorted(stored(project, a.id)) == [0, 1]


def test_files_that_are_not_coco_import_nothing(project, tmp_path):
    st = video(project)
    before = project.add_annotation(st.id, "mask", Mask(two_polyps()), frame=1)
    (tmp_path / "broken.json").write_text('{"images": [\n  {"id": 1,,}\n]}')
    with pytest.raises(CocoError, match=r"not valid JSON.*line 2, column"):
        drain(import_coco(project, tmp_path / "broken.json"))
    for doc, msg in (([], "no \"images\" list"), ({"annotations": []}, "no \"images\" list"),
                     ({"images": [], "annotations": {}}, "not a list"),
                     ({"images": [], "categories": [{"id": 1, "name": "candidate"}]},
                      "no polyp category")):
        with pytest.raises(CocoError, match=msg):
            drain(import_coco(project, write_json(tmp_path / "x.json", doc)))
    (tmp_path / "latin.json").write_bytes(b'{"images": "\xff"}')
    with pytest.raises(CocoError, match="UTF-8"):
        drain(import_coco(project, tmp_path / "latin.json"))
    with pytest.raises(CocoError, match="cannot be read"):
        drain(import_coco(project, tmp_path / "missing.json"))
    assert [a.id for a in project.annotations(kind="mask")] == [before.id]
