"""PostgreSQL's ``COPY``: sending and receiving it through psycopg (streamed while the
rows are still being made, too), and its binary format, built a column at a time with
NumPy.

PostgreSQL parses a text or CSV ``COPY`` value by value (an instant's text and its zone,
a decimal's digits); in the binary format each value arrives as the server stores it,
which spares the server a sixth of a million-row import of samples. Rows are built here
from whole columns: a fixed layout as wide as a row with every value present, the values
written big-endian into it, and then the bytes of each missing value left out.

The format (PostgreSQL's documentation, "COPY", "Binary Format"): a header; per row the
number of fields and each field as its length in bytes (-1 for NULL) and its bytes; a
trailer. The kinds used here: ``integer`` (4 bytes), ``timestamptz`` (microseconds since
2000-01-01 UTC, 8 bytes) and ``numeric`` (digit count, weight, sign and display scale,
then base-10,000 digits, 2 bytes each).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
"""The signature, then no flags and no header extension."""
TRAILER = b"\xff\xff"
EPOCH_2000_US = 946_684_800_000_000
"""2000-01-01 UTC in microseconds since 1970, PostgreSQL's zero instant."""
NUMERIC_DIGITS = 3
"""Base-10,000 digits sent per number: two before the point (so up to 99,999,999), one
after (so up to four decimal places)."""
NUMERIC_BYTES = 8 + 2 * NUMERIC_DIGITS
NEGATIVE = 0x4000
COPY_BLOCK = 1 << 20
PIPE_BYTES = 1 << 20
"""The pipe's buffer, as large as Linux lets anyone make it (``pipe-max-size``)."""


@dataclass(frozen=True)
class Integers:
    """An ``integer`` column, never NULL."""

    values: np.ndarray


@dataclass(frozen=True)
class Instants:
    """A ``timestamptz`` column as microseconds since 1970-01-01 UTC, never NULL."""

    values: np.ndarray


@dataclass(frozen=True)
class Decimals:
    """A ``numeric`` column given exactly as integers in units of ``10**-places`` (at
    most four places), shown with ``scale`` decimal places; ``missing`` marks NULLs."""

    values: np.ndarray
    missing: np.ndarray
    places: int
    scale: int


Column = Integers | Instants | Decimals


def _layout(columns: list[Column]) -> np.dtype:
    """One row with every value present: the field count, then each field's length and
    bytes, all big-endian."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for n, column in enumerate(columns):
        fields.append((f"length{n}", ">i4"))
        if isinstance(column, Integers):
            fields.append((f"value{n}", ">i4"))
        elif isinstance(column, Instants):
            fields.append((f"value{n}", ">i8"))
        else:
            fields += [(f"{part}{n}", ">i2") for part in ("digits", "weight", "sign", "scale")]
            fields += [(f"digit{n}_{d}", ">i2") for d in range(NUMERIC_DIGITS)]
    return np.dtype(fields)


def encode(columns: list[Column]) -> bytes:
    """The rows of ``columns`` (all of one length) in the binary format, without the
    header and trailer."""
    layout = _layout(columns)
    offsets = layout.fields
    assert offsets is not None
    rows = len(columns[0].values)
    record = np.empty(rows, layout)
    record["count"] = len(columns)
    kept: np.ndarray | None = None
    for n, column in enumerate(columns):
        if isinstance(column, Integers):
            record[f"length{n}"] = 4
            record[f"value{n}"] = column.values
        elif isinstance(column, Instants):
            record[f"length{n}"] = 8
            record[f"value{n}"] = column.values - EPOCH_2000_US
        else:
            _numeric(record, n, column)
            if column.missing.any():
                if kept is None:
                    kept = np.ones((rows, layout.itemsize), dtype=bool)
                start = offsets[f"digits{n}"][1]
                kept[column.missing, start : start + NUMERIC_BYTES] = False
    flat = record.view(np.uint8).reshape(rows, layout.itemsize)
    return (flat if kept is None else flat[kept]).tobytes()


def _numeric(record: np.ndarray, n: int, column: Decimals) -> None:
    """Fill field ``n`` of ``record`` with ``column``'s numbers: weight 1, so the digits
    are the ten-thousands of the whole part, its units, and four decimal places."""
    if not 0 <= column.places <= 4:
        raise ValueError(f"at most four decimal places, not {column.places}")
    size = np.abs(column.values)
    whole, fraction = np.divmod(size, 10**column.places)
    if len(whole) and int(whole.max()) >= 10_000**2:
        raise ValueError("a number of 100,000,000 or more does not fit the layout")
    record[f"length{n}"] = np.where(column.missing, -1, NUMERIC_BYTES)
    record[f"digits{n}"] = NUMERIC_DIGITS
    record[f"weight{n}"] = 1
    record[f"sign{n}"] = np.where(column.values < 0, NEGATIVE, 0)
    record[f"scale{n}"] = column.scale
    record[f"digit{n}_0"], record[f"digit{n}_1"] = np.divmod(whole, 10_000)
    record[f"digit{n}_2"] = fraction * 10 ** (4 - column.places)


def copy_in(driver: Any, statement: str, rows: BinaryIO) -> int:
    """Send what ``rows`` holds to a ``COPY … FROM STDIN``; return the rows copied."""
    with driver.cursor() as cursor:
        with cursor.copy(statement) as copy:
            while block := rows.read(COPY_BLOCK):
                copy.write(block)
        return int(cursor.rowcount)


def copy_streamed(driver: Any, statement: str, chunks: Iterator[bytes]) -> int:
    """``COPY`` into PostgreSQL the bytes ``chunks`` gives while it is still making them.

    A thread of its own takes the chunks (for samples, a part of the rows each, which
    DuckDB reads and sorts and NumPy encodes) and writes them into a named pipe while this
    thread sends what it reads, so the server stores one part while the next is made,
    each on its core. Should the copy fail, closing the pipe's reading end stops the
    writer (its writes fail); should making a chunk fail, the failure is raised once
    the copy has ended, so the caller's savepoint undoes what was copied.
    """
    with tempfile.TemporaryDirectory() as folder:
        pipe = Path(folder) / "rows"
        os.mkfifo(pipe)
        reading = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
        fcntl.fcntl(reading, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        sink = open(pipe, "wb")  # noqa: SIM115 - closed by the writing thread
        os.set_blocking(reading, True)
        failed: list[Exception] = []

        def write() -> None:
            try:
                with sink:
                    for chunk in chunks:
                        sink.write(chunk)
            except Exception as exc:  # raised in the copying thread, below
                failed.append(exc)

        writer = threading.Thread(target=write, name="copy-rows")
        writer.start()
        try:
            with open(reading, "rb") as rows:
                copied = copy_in(driver, statement, rows)
        finally:
            writer.join()
        if failed:
            raise failed[0]
        return copied


def copy_out(driver: Any, statement: str, path: Path) -> None:
    """Write what a ``COPY … TO STDOUT`` sends to the file at ``path``."""
    with driver.cursor() as cursor, cursor.copy(statement) as copy, path.open("wb") as handle:
        for block in copy:
            handle.write(block)
