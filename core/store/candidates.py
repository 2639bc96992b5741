"""Candidates: the locations a task's generator proposes for the network to score.

Per study, each candidate records its generator and the generator's version, where it
is (a frame and a (row, col) centre in pixels, or a (plane, row, col) voxel centre for
volumes), its extent (a box), and its hit label derived from the annotations (1 inside
an expert mark, 0 not, None not yet decided).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.store.db import ProjectError, now, to_json, where


@dataclass(frozen=True)
class Candidate:
    """A proposed location. ``center``: (row, col) or (plane, row, col) in pixels/voxels;
    ``extent``: (row0, col0, row1, col1) or (plane0, row0, col0, plane1, row1, col1)."""

    frame: int | None
    center: tuple[float, ...]
    extent: tuple[float, ...]
    score: float | None = None
    hit: int | None = None
    params: dict = field(default_factory=dict, compare=False)
    id: int | None = None
    study_id: int | None = None
    generator: str = ""
    version: str = ""


_COLS = "id, study_id, generator, version, frame, center, extent, score, hit, params"


def _candidate(r: tuple, db) -> Candidate:
    what = f"candidate {r[0]}"
    return Candidate(r[4], tuple(db._json(r[5], f"the centre of {what}")),
                     tuple(db._json(r[6], f"the extent of {what}")), r[7], r[8],
                     db._json(r[9], f"the parameters of {what}") or {}, r[0], r[1], r[2], r[3])


class CandidatesMixin:
    """Candidate methods of :class:`core.store.Project`."""

    def put_candidates(self, study_id: int, generator: str, version: str,
                       candidates: Iterable[Candidate], *, frames: Iterable[int] | None = None
                       ) -> list[int]:
        """Store a generator's candidates of a study, replacing its earlier ones.

        ``frames`` limits the replacement to those frames (a generator run on part of
        a video); by default every earlier candidate of ``generator`` on the study goes.
        Returns the new ids in order.
        """
        if not generator or not version:
            raise ValueError("a candidate generator needs a name and a version")
        self.study(study_id)
        rows = list(candidates)
        for c in rows:
            if len(c.extent) != 2 * len(c.center) or len(c.center) not in (2, 3):
                raise ValueError(f"a candidate needs a 2-D or 3-D centre and a box twice as "
                                 f"long, got {c.center} and {c.extent}")
        with self._write() as con:
            if frames is None:
                con.execute("DELETE FROM candidates WHERE study_id=? AND generator=?",
                            (int(study_id), generator))
            else:
                con.executemany("DELETE FROM candidates WHERE study_id=? AND generator=? AND "
                                "frame=?", [(int(study_id), generator, int(f)) for f in frames])
            ids = []
            for c in rows:
                cur = con.execute(
                    "INSERT INTO candidates (study_id, generator, version, frame, center, "
                    "extent, score, hit, params, time) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (int(study_id), generator, version, None if c.frame is None else int(c.frame),
                     to_json([float(v) for v in c.center]), to_json([float(v) for v in c.extent]),
                     c.score, c.hit, to_json(c.params), now()))
                ids.append(cur.lastrowid)
        return ids

    def candidates(self, study_id: int, *, generator: str | None = None,
                   frame: int | None = None) -> list[Candidate]:
        cond, args = where({"study_id": int(study_id), "generator": generator,
                            "frame": None if frame is None else int(frame)})
        rows = self._read(f"SELECT {_COLS} FROM candidates{cond} ORDER BY frame, id", args)
        return [_candidate(r, self) for r in rows]

    def set_candidate_hits(self, hits: Mapping[int, int | None]) -> None:
        """Record each candidate's hit label (1, 0 or None), derived from annotations."""
        with self._write() as con:
            for cid, hit in hits.items():
                if hit not in (0, 1, None):
                    raise ValueError(f"a hit label is 1, 0 or None, got {hit!r}")
                if con.execute("UPDATE candidates SET hit=? WHERE id=?",
                               (hit, int(cid))).rowcount == 0:
                    raise ProjectError(f"There is no candidate number {cid} in this project.")
