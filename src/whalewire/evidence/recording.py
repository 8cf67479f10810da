"""Read a recording back: each table as one Arrow table, sorted by time, whatever its format.

A recording is a folder written by ``recorder.Recorder`` (or ``synth``): one sub-folder
per table, complete files only (``*.part`` files are still being written and are skipped).
Parquet and Arrow IPC files are told apart by their suffix, so a folder may hold both.
Knows the tables and files; nothing of what they mean.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from whalewire.evidence.schema import SCHEMAS, TABLES

__all__ = ["RecordingError", "load", "read_table"]


class RecordingError(ValueError):
    """The folder is not a recording, or one of its files does not read as its table."""


def _read_file(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def read_table(directory: Path, table: str) -> pa.Table:
    """Return every complete file of ``table`` in ``directory`` as one table, by ``ts_ns``.

    Raises:
        RecordingError: a file does not read, or its columns are not the table's.
    """
    schema = SCHEMAS[table]
    folder = Path(directory) / table
    parts: list[pa.Table] = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".parquet", ".arrow"):
                continue
            try:
                part = _read_file(path)
            except (OSError, pa.ArrowInvalid) as exc:
                raise RecordingError(f"{path}: does not read as {table}: {exc}") from exc
            if part.schema.names != schema.names:
                raise RecordingError(
                    f"{path}: columns {part.schema.names}, expected {table}'s {schema.names}"
                )
            parts.append(part.cast(schema))
    if not parts:
        return schema.empty_table()
    whole = pa.concat_tables(parts)
    return whole.take(pc.sort_indices(whole, sort_keys=[("ts_ns", "ascending")]))


def load(directory: Path) -> dict[str, pa.Table]:
    """Return every table of the recording in ``directory``.

    Raises:
        RecordingError: ``directory`` holds none of the tables' folders.
    """
    directory = Path(directory)
    if not any((directory / t).is_dir() for t in TABLES):
        raise RecordingError(
            f"{directory}: not a recording (no {', '.join(TABLES)} folder): record one with "
            "`whalewire record` or `whalewire demo --record DIR`"
        )
    return {t: read_table(directory, t) for t in TABLES}
