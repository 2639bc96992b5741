"""Rows of a CSV file with the line each starts on, and plain messages for broken files.

Python's ``csv`` module reports a stray quote (``"``) in a large file as "field larger
than field limit (131072)" on the line where it gave up, thousands of lines after the
quote. :func:`csv_rows` says instead which line opened the cell that never closed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CsvFileError", "csv_rows", "unclosed_quote"]


class CsvFileError(ValueError):
    """A CSV file cannot be read as a table; the message names the file and the line."""


def unclosed_quote(path: str | Path, line: int, limit: bool = False) -> CsvFileError:
    """The error for a quoted cell opened on ``line`` that never closes."""
    extra = (" so the rest of the file ran into one cell of more than "
             f"{csv.field_size_limit():,} characters;" if limit else "")
    return CsvFileError(
        f"{path}, line {line}: a cell there opens with a quote (\") that is never "
        f"closed,{extra} the lines after it were read as part of that cell. Remove the "
        "stray quote or write it twice (\"\") and try again.")


def csv_rows(fh, path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line, row)`` for each row of the open text file ``fh``; ``line`` is the
    1-based line the row starts on.

    Raises
    ------
    CsvFileError
        The file breaks the CSV format (an unclosed quote, a NUL byte...), naming the
        line where the broken row starts.
    """
    reader = csv.reader(fh)
    end = 0  # the last line of the previous row
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise unclosed_quote(path, start, limit=True) from None
            raise CsvFileError(f"{path}, line {start}: not a valid CSV row ({exc}).") from None
        end = reader.line_num
        if end > start and any("\n" in c or "\r" in c for c in row):
            # a quote opened here ran over line ends: a cell spans lines, which no
            # row of these tables does on purpose
            raise unclosed_quote(path, start)
        yield start, row
