"""The trusted side's parser of the results stream: whatever the sandboxed code writes there, it
neither raises nor inflates anything, and only the first frame of each wanted case is read."""

from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pytest

from grader.frames import MAX_FRAMES, MAX_MEMBERS, parse_frames

WANTED = {"linear_adam", "big_model_adam"}


def npy(value) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, value)
    return buffer.getvalue()


def framed(payload: bytes) -> bytes:
    return len(payload).to_bytes(8, "big") + payload


def harness_frame(meta: dict, **arrays) -> bytes:
    """A frame as the harness writes it (numpy.savez)."""
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(json.dumps(meta)), **arrays)
    return framed(buffer.getvalue())


def zip_frame(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return framed(buffer.getvalue())


def meta_member(meta) -> bytes:
    return npy(np.array(meta if isinstance(meta, str) else json.dumps(meta)))


def test_a_frame_as_the_harness_writes_it_is_read():
    meta = {"case": "linear_adam", "status": "ok", "quantities": [{"name": "w", "type": "ndarray"}]}
    records, problems = parse_frames(harness_frame(meta, w=np.arange(3.0)), WANTED)
    assert problems == []
    record = records["linear_adam"]
    assert record.status == "ok" and record.recorded("w") == {"name": "w", "graded": True, "type": "ndarray"}
    assert np.array_equal(record.arrays["w"], np.arange(3.0))


FORGED = {
    "not numpy arrays": ({"__meta__": b"hello"}, "missing metadata"),
    "JSON nested beyond recursion": ({"__meta__.npy": meta_member("[" * 20000)}, "RecursionError"),
    "an integer of 5000 digits": (
        {"__meta__.npy": meta_member('{"case": 1' + "0" * 5000 + "}")},
        "bad metadata",
    ),
    "no case": ({"__meta__.npy": meta_member({"status": "ok"})}, "bad metadata"),
    "not a zip": ({}, None),
}


@pytest.mark.parametrize("name", FORGED)
def test_forged_frames_are_ignored_with_a_reason(name):
    members, reason = FORGED[name]
    stream = zip_frame(members) if members else framed(b"PK\x03\x04 but not a zip")
    records, problems = parse_frames(stream, WANTED)
    assert records == {} and len(problems) == 1 and "unreadable frame" in problems[0]
    assert reason is None or reason in problems[0]


def test_odd_metadata_fields_are_dropped_not_trusted():
    nested = []
    for _ in range(900):  # deeper than a report's conversion to a dict could follow
        nested = [nested]
    meta = {
        "case": "linear_adam",
        "status": "ok",
        "quantities": 5,
        "error": ["not", "text"],
        "where": {"file": "mytorch/optim/adam.py", "line": 3, "extra": nested},
    }
    record = parse_frames(harness_frame(meta), WANTED)[0]["linear_adam"]
    assert record.quantities == [] and record.error == ""
    assert record.where == {"file": "mytorch/optim/adam.py", "line": 3}
    meta["where"] = {"file": "a.py", "line": True}
    assert parse_frames(harness_frame(meta), WANTED)[0]["linear_adam"].where is None


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_compressed_frames_are_refused_before_anything_is_inflated(compression):
    """A frame of a few hundred bytes could otherwise inflate to gigabytes on the trusted side."""
    members = {
        "__meta__.npy": meta_member({"case": "linear_adam", "status": "ok"}),
        "w.npy": npy(np.zeros(10**6)),
    }
    records, problems = parse_frames(zip_frame(members, compression), WANTED)
    assert records == {} and "compressed" in problems[0]


def test_only_the_first_frame_of_a_wanted_case_counts():
    first = harness_frame({"case": "linear_adam", "status": "ok"}, w=np.ones(2))
    again = harness_frame({"case": "linear_adam", "status": "ok"}, w=np.zeros(2))
    other = harness_frame({"case": "dropout_forward", "status": "ok"}, w=np.zeros(2))
    records, problems = parse_frames(other + first + again, WANTED)
    assert set(records) == {"linear_adam"} and problems == []
    assert np.array_equal(records["linear_adam"].arrays["w"], np.ones(2))


def test_a_flood_of_frames_is_cut_off():
    junk = harness_frame({"case": "dropout_forward", "status": "ok"})
    late = harness_frame({"case": "linear_adam", "status": "ok"})
    records, problems = parse_frames(junk * MAX_FRAMES + late, WANTED)
    assert records == {} and problems == [
        f"more than {MAX_FRAMES} frames in the results stream: the rest were ignored"
    ]


def many_member_frame(count: int) -> bytes:
    """A frame with `count` tiny arrays besides its metadata, as a handin could forge it."""
    tiny = npy(np.zeros(1))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("__meta__.npy", meta_member({"case": "linear_adam", "status": "ok"}))
        for index in range(count):
            archive.writestr(f"a{index}.npy", tiny)
    return buffer.getvalue()


def test_a_frame_of_100000_tiny_arrays_is_refused_within_a_small_cpu_bound():
    """Past 65,535 members a zip needs a zip64 directory, which numpy.savez never writes for a case."""
    stream = framed(many_member_frame(100_000))
    started = time.process_time()
    records, problems = parse_frames(stream, WANTED)
    assert time.process_time() - started < 0.2
    assert records == {} and problems[0] == "an unreadable frame was ignored: a zip64 directory"


def test_an_end_record_that_understates_the_members_is_refused():
    """zipfile reads the directory by its size, not by the count the end record gives."""
    frame = bytearray(many_member_frame(2 * MAX_MEMBERS))
    frame[-12:-10] = (3).to_bytes(2, "little")  # both counts of the end record
    frame[-14:-12] = (3).to_bytes(2, "little")
    records, problems = parse_frames(framed(bytes(frame)), WANTED)
    assert records == {} and f"more than {MAX_MEMBERS} members" in problems[0]


def test_the_largest_stream_the_bounds_allow_is_parsed_within_a_small_cpu_bound():
    """Every frame at the member limit, the wanted ones read in full: the trusted side's worst case."""
    wanted = harness_frame(
        {"case": "linear_adam", "status": "ok"},
        **{f"q{index}": np.ones(8) for index in range(MAX_MEMBERS - 1)},
    )
    other = harness_frame(
        {"case": "dropout_forward", "status": "ok"},
        **{f"q{index}": np.ones(8) for index in range(MAX_MEMBERS - 1)},
    )
    started = time.process_time()
    records, problems = parse_frames(wanted + other * (MAX_FRAMES - 1), WANTED)
    assert time.process_time() - started < 0.2
    assert len(records["linear_adam"].arrays) == MAX_MEMBERS - 1 and problems == []


def test_members_that_share_their_data_are_refused():
    """Two names for one block of data: 255 of them made a 16 MB frame read as 4 GB where the
    interpreter lacks the check of CVE-2024-0450."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("__meta__.npy", meta_member({"case": "linear_adam", "status": "ok"}))
        archive.writestr("a.npy", npy(np.ones(1000)))
        archive.writestr("b.npy", npy(np.ones(1000)))
    frame = bytearray(buffer.getvalue())
    first = zipfile.ZipFile(io.BytesIO(bytes(frame))).getinfo("a.npy")
    entry = next(  # b's central directory entry: its name follows the entry's 46 fixed bytes
        offset
        for offset in range(len(frame))
        if frame[offset : offset + 4] == b"PK\x01\x02" and frame[offset + 46 : offset + 51] == b"b.npy"
    )
    frame[entry + 42 : entry + 46] = first.header_offset.to_bytes(4, "little")  # now b reads a's bytes
    records, problems = parse_frames(framed(bytes(frame)), WANTED)
    assert records == {} and "overlapping members" in problems[0]


def test_text_of_a_frame_is_printable_whatever_it_held():
    meta = {"case": "linear_adam", "status": "error", "error": "bad \ud800 text \x00", "quantities": []}
    record = parse_frames(harness_frame(meta), WANTED)[0]["linear_adam"]
    assert record.error == "bad \ufffd text \x00"
    record.error.encode("utf-8")  # what a terminal or a file takes
