"""Parses the results channel written by the sandboxed harness. Its bytes are untrusted."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field

import numpy as np

MAX_UNPACKED_FRAME_BYTES = 64 << 20  # what one frame's arrays may decompress to
MAX_META_CHARS = 64 << 10


@dataclass
class CaseRecord:
    """What the harness reported for one case: status, recorded types and arrays."""

    case: str
    status: str  # "ok" or "error"
    quantities: list[dict] = field(default_factory=list)  # {"name", "graded", "type"} in recording order
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    where: dict | None = None  # {"file", "line"} in the student's code

    def recorded(self, name: str) -> dict | None:
        return next((q for q in self.quantities if q["name"] == name), None)


class FrameError(ValueError):
    pass


def parse_frames(data: bytes, wanted: set[str]) -> tuple[dict[str, CaseRecord], list[str]]:
    """Returns the records of the wanted cases and a list of problems found in the stream."""
    records: dict[str, CaseRecord] = {}
    problems: list[str] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            problems.append("the results stream ends in the middle of a frame header")
            break
        size = int.from_bytes(data[offset : offset + 8], "big")
        payload = data[offset + 8 : offset + 8 + size]
        offset += 8 + size
        if len(payload) != size:
            problems.append("the results stream ends in the middle of a frame")
            break
        try:
            record = parse_frame(payload)
        except FrameError as error:
            problems.append(f"an unreadable frame was ignored: {error}")
            continue
        if record.case in wanted and record.case not in records:
            records[record.case] = record
    return records, problems


def parse_frame(payload: bytes) -> CaseRecord:
    """One .npz frame -> CaseRecord; anything malformed raises FrameError."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_FRAME_BYTES:
                raise FrameError("frame too large")
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            contents = {key: npz[key] for key in npz.files}
    except FrameError:
        raise
    except Exception as error:  # zipfile, numpy and pickle refusals all land here
        raise FrameError(f"{type(error).__name__}: {error}") from None

    meta_array = contents.pop("__meta__", None)
    if meta_array is None or meta_array.dtype.kind != "U" or meta_array.shape != ():
        raise FrameError("missing metadata")
    text = str(meta_array)
    if len(text) > MAX_META_CHARS:
        raise FrameError("metadata too large")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as error:
        raise FrameError(f"bad metadata: {error}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("case"), str):
        raise FrameError("bad metadata")

    quantities = [
        {"name": str(q.get("name")), "graded": bool(q.get("graded", True)), "type": str(q.get("type"))}
        for q in meta.get("quantities", [])
        if isinstance(q, dict)
    ]
    arrays = {name: value for name, value in contents.items() if value.dtype.kind in "biuf"}
    where = meta.get("where")
    if not (
        isinstance(where, dict) and isinstance(where.get("file"), str) and isinstance(where.get("line"), int)
    ):
        where = None
    return CaseRecord(
        case=meta["case"],
        status="ok" if meta.get("status") == "ok" else "error",
        quantities=quantities,
        arrays=arrays,
        error=str(meta.get("error", ""))[:2000],
        traceback=str(meta.get("traceback", ""))[:4000],
        where=where,
    )
