"""The one record every importer (masks, COCO, tracings) keeps of an entry it did not
import as it stood."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ImportProblem:
    """One file or entry that was not imported as it stood, and why.

    ``entry`` names it (a file name, ``image 12 (a/b.png)``, ``a-MA.txt line 2``);
    ``code`` is a key of the importer's ``PROBLEM_CODES``; ``imported`` is True for notes
    on entries imported all the same (an empty mask, a tracing drawn right to left)."""

    entry: str
    code: str
    message: str
    imported: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"entry": self.entry, "code": self.code, "message": self.message,
                "imported": self.imported}
