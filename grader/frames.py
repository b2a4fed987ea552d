"""Parses the results channel written by the sandboxed harness. Its bytes are untrusted."""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from collections.abc import Set
from dataclasses import dataclass, field

import numpy as np

MAX_META_CHARS = 64 << 10
MAX_FRAMES = 16  # the harness writes one frame per case, and a problem has at most four cases
# What numpy.savez writes for one case: a few dozen arrays (the largest case records 36) and a
# directory of a few KiB. Anything past these bounds is refused before zipfile or numpy parse it,
# so the trusted side's work per frame stays small whatever a handin forges (a frame of 100,000
# tiny arrays took seconds of CPU to list).
MAX_MEMBERS = 256
MAX_DIRECTORY_BYTES = 256 * 400
END_RECORD = struct.Struct("<4s4H2LH")  # the zip's end of central directory, 22 bytes
SURROGATES = re.compile("[\ud800-\udfff]")  # JSON lets a frame's text hold what no output can encode


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
    """Returns the records of the wanted cases and a list of problems found in the stream. Only the
    first frame of each wanted case has its arrays read; nothing in `data` can make this raise."""
    records: dict[str, CaseRecord] = {}
    problems: list[str] = []
    offset = frames = 0
    data = memoryview(data)  # frames are looked at in place: only a plausible one is copied
    while offset < len(data):
        if frames == MAX_FRAMES:
            problems.append(f"more than {MAX_FRAMES} frames in the results stream: the rest were ignored")
            break
        frames += 1
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
            record = parse_frame(payload, wanted - records.keys())
        except FrameError as error:
            problems.append(f"an unreadable frame was ignored: {error}")
            continue
        if record is not None:
            records[record.case] = record
    return records, problems


def parse_frame(payload: bytes | memoryview, wanted: Set[str]) -> CaseRecord | None:
    """One .npz frame -> its CaseRecord, or None if its case is not in `wanted` (its arrays are then
    never read). Anything malformed raises FrameError."""
    try:
        return _parse_frame(payload, wanted)
    except FrameError:
        raise
    except Exception as error:  # zipfile, numpy, json, deep nesting: whatever the bytes provoke
        raise FrameError(f"{type(error).__name__}: {str(error)[:200]}") from None


def check_layout(payload: bytes | memoryview) -> None:
    """Refuses, from the zip's end record and directory bytes alone, a frame that is not as small and
    plain as the ones numpy.savez writes: no comment, no zip64 directory, at most MAX_MEMBERS members."""
    if (
        len(payload) < END_RECORD.size
        or bytes(payload[-END_RECORD.size : -END_RECORD.size + 4]) != b"PK\x05\x06"
    ):
        raise FrameError("no zip end record where numpy.savez puts it")
    _, _, _, _, entries, size, offset, _ = END_RECORD.unpack(payload[-END_RECORD.size :])
    if bytes(payload[-END_RECORD.size - 20 : -END_RECORD.size - 16]) == b"PK\x06\x07":
        raise FrameError("a zip64 directory")
    if entries > MAX_MEMBERS or size > MAX_DIRECTORY_BYTES:
        raise FrameError(f"more than {MAX_MEMBERS} members")
    if bytes(payload[offset : offset + size]).count(b"PK\x01\x02") > MAX_MEMBERS:  # zipfile reads by size
        raise FrameError(f"more than {MAX_MEMBERS} members")


def _parse_frame(payload: bytes | memoryview, wanted: Set[str]) -> CaseRecord | None:
    check_layout(payload)
    payload = bytes(payload)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        # The harness stores its arrays uncompressed (numpy.savez): nothing here inflates beyond the
        # frame's own bytes, and a frame that says otherwise is not the harness's.
        if any(
            member.compress_type != zipfile.ZIP_STORED or member.file_size != member.compress_size
            for member in archive.infolist()
        ):
            raise FrameError("compressed or inconsistent members")
        members = sorted(archive.infolist(), key=lambda member: member.header_offset)
        for member, following in zip(members, members[1:] + [None], strict=True):
            end = member.header_offset + 30 + member.compress_size  # 30: a local header's fixed part
            if end > (following.header_offset if following else len(payload)):
                # Members whose data overlap: 255 names for one block of 16 MB were read 255 times
                # (8 GB) where the interpreter lacks the CVE-2024-0450 check.
                raise FrameError("overlapping members")
        meta = next((member for member in archive.infolist() if member.filename == "__meta__.npy"), None)
        if meta is not None and meta.file_size > 4 * MAX_META_CHARS + 256:  # numpy stores UCS-4
            raise FrameError("metadata too large")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        meta = _metadata(npz["__meta__"] if "__meta__" in npz.files else None)
        if meta["case"] not in wanted:
            return None
        arrays = {
            name: value
            for name in npz.files
            if name != "__meta__"
            and isinstance(value := npz[name], np.ndarray)
            and value.dtype.kind in "biuf"
        }
    quantities = meta.get("quantities")
    return CaseRecord(
        case=meta["case"],
        status="ok" if meta.get("status") == "ok" else "error",
        quantities=[
            {
                "name": _text(q["name"], 200),
                "graded": bool(q.get("graded", True)),
                "type": _text(q.get("type"), 200),
            }
            for q in (quantities if isinstance(quantities, list) else [])
            if isinstance(q, dict) and isinstance(q.get("name"), str)
        ],
        arrays=arrays,
        error=_text(meta.get("error"), 2000),
        traceback=_text(meta.get("traceback"), 4000),
        where=_where(meta.get("where")),
    )


def _metadata(meta_array: object) -> dict:
    if not isinstance(meta_array, np.ndarray) or meta_array.dtype.kind != "U" or meta_array.shape != ():
        raise FrameError("missing metadata")
    text = str(meta_array)
    if len(text) > MAX_META_CHARS:
        raise FrameError("metadata too large")
    try:
        meta = json.loads(text)
    except ValueError as error:
        raise FrameError(f"bad metadata: {str(error)[:200]}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("case"), str):
        raise FrameError("bad metadata")
    return meta


def _text(value: object, limit: int) -> str:
    """A string from the frame, cut to `limit` and printable anywhere (lone surrogates replaced)."""
    return SURROGATES.sub("\ufffd", value[:limit]) if isinstance(value, str) else ""


def _where(value: object) -> dict | None:
    """{"file", "line"} of the student's code, rebuilt from plain values (or None)."""
    if not isinstance(value, dict):
        return None
    file, line = value.get("file"), value.get("line")
    if not isinstance(file, str) or type(line) is not int or not 0 < line < 10**9:
        return None
    return {"file": _text(file, 300), "line": line}
