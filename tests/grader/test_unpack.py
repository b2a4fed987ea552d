"""grader.unpack: hostile handin archives are refused with clear messages, and nothing escapes dest."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from grader.unpack import HandinError, Unpacked, UnpackLimits, inspect_handin, unpack_handin

GOOD = {
    "mytorch/__init__.py": b"",
    "mytorch/tensor.py": b"class Tensor:\n    pass\n",
    "mytorch/nn/__init__.py": b"",
    "mytorch/nn/linear.py": b"W = 2\n",
}
NO_MYTORCH = "no mytorch/ folder found in handin.tar; create it with create_tarball.sh"
ZEROS = bytes(1 << 20)


def member(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def tar_of(files: dict[str, bytes], mode: str = "w") -> bytes:
    """A tar (compressed as `mode` says) holding `files`, in tarfile's default (pax) format."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            archive.addfile(member(name, len(data)), io.BytesIO(data))
    return buffer.getvalue()


def tar_with(*extra: tarfile.TarInfo, data: bytes = b"", fmt: int = tarfile.GNU_FORMAT) -> bytes:
    """A good handin followed by `extra` members (each with `data` if it is a regular file)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, content in GOOD.items():
            archive.addfile(member(name, len(content)), io.BytesIO(content))
        for info in extra:
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def gzip_stream(*parts: bytes, zeros_mb: int = 0, tail: bytes = b"") -> bytes:
    """gzip of parts + `zeros_mb` MB of zeros + tail, streamed so the zeros never sit in memory at once."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as compressed:
        for part in parts:
            compressed.write(part)
        for _ in range(zeros_mb):
            compressed.write(ZEROS)
        compressed.write(tail)
    return buffer.getvalue()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under `folder` (links not followed) with its size and mode."""
    found = {}
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(parent, name)
            status = path.lstat()
            found[str(path.relative_to(folder))] = (status.st_size, status.st_mode)
    return found


@contextmanager
def untouched_outside(dest: Path) -> Iterator[None]:
    """Checks that nothing next to `dest` (or above it in the test folder) changes, even on failure."""
    parent = dest.parent
    before = {path: value for path, value in snapshot(parent).items() if path.split("/")[0] != dest.name}
    try:
        yield
    finally:
        after = {path: value for path, value in snapshot(parent).items() if path.split("/")[0] != dest.name}
        assert after == before


def unpack(tmp_path: Path, data: bytes, limits: UnpackLimits | None = None, name: str = "handin.tar"):
    """unpack_handin on `data` into a fresh dest; on refusal, checks dest was left empty."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    archive = tmp_path / name
    archive.write_bytes(data)
    dest = tmp_path / "work" / "dest"
    dest.mkdir(parents=True)
    (tmp_path / "work" / "neighbour.txt").write_text("keep me\n")
    with untouched_outside(dest):
        try:
            return unpack_handin(archive, dest, limits)
        except HandinError:
            assert os.listdir(dest) == []
            raise


def refusal(data: bytes, tmp_path: Path, limits: UnpackLimits | None = None) -> str:
    """The message unpack_handin refuses `data` with, after checking inspect_handin gives the same one."""
    with pytest.raises(HandinError) as unpacked:
        unpack(tmp_path, data, limits)
    with pytest.raises(HandinError) as inspected:
        inspect_handin(data, limits)
    assert str(inspected.value) == str(unpacked.value)
    return str(unpacked.value)


# What is kept


def test_correct_handin_unpacks_only_mytorch_with_safe_modes(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in GOOD.items():
            hostile = member(name, len(data), mode=0o6777, uid=0, gid=0, uname="root", mtime=0)
            archive.addfile(hostile, io.BytesIO(data))
        archive.addfile(member("mytorch/nn", kind=tarfile.DIRTYPE, mode=0o777))
    old_umask = os.umask(0o077)
    try:
        unpacked = unpack(tmp_path, buffer.getvalue())
    finally:
        os.umask(old_umask)

    dest = tmp_path / "work" / "dest"
    assert unpacked == Unpacked(root=dest, files=sorted(GOOD), ignored=[])
    assert os.listdir(dest) == ["mytorch"]
    for name, data in GOOD.items():
        path = dest / name
        assert path.read_bytes() == data
        assert path.stat().st_mode & 0o7777 == 0o644
        assert path.stat().st_mtime > 1e9  # the archive's mtime of 0 is not applied
    for folder in (dest / "mytorch", dest / "mytorch/nn"):
        assert folder.stat().st_mode & 0o7777 == 0o755


@pytest.mark.parametrize("prefix", ["handin/", "./", "./handin/"])
def test_mytorch_at_the_top_or_one_folder_down_is_found(tmp_path, prefix):
    unpacked = unpack(tmp_path, tar_of({prefix + name: data for name, data in GOOD.items()}))
    assert unpacked.files == sorted(GOOD)
    assert (tmp_path / "work/dest/mytorch/nn/linear.py").read_bytes() == b"W = 2\n"


def test_mytorch_two_folders_down_is_not_found(tmp_path):
    data = tar_of({f"a/b/{name}": content for name, content in GOOD.items()})
    assert refusal(data, tmp_path).startswith(NO_MYTORCH)


def test_top_level_mytorch_is_preferred_over_a_nested_copy(tmp_path):
    data = tar_of({"old/mytorch/tensor.py": b"stale = True\n", **GOOD})
    unpacked = unpack(tmp_path, data)
    assert unpacked.files == sorted(GOOD)
    assert unpacked.ignored == ["old/mytorch/tensor.py"]
    assert (tmp_path / "work/dest/mytorch/tensor.py").read_bytes() == GOOD["mytorch/tensor.py"]


def test_two_nested_mytorch_folders_are_refused_as_ambiguous(tmp_path):
    data = tar_of({"a/mytorch/x.py": b"", "b/mytorch/y.py": b""})
    assert "several mytorch/ folders (a/mytorch/, b/mytorch/)" in refusal(data, tmp_path)


def test_extras_pycache_and_macos_files_are_ignored_and_listed(tmp_path):
    extras = {
        "hw1/mlp.py": b"",
        "autograder/runner.py": b"",
        "README.md": b"",
        "._mytorch": b"",
        "mytorch/__pycache__/tensor.cpython-311.pyc": b"\0",
        "mytorch/nn/stale.pyc": b"\0",
        "mytorch/.DS_Store": b"\0",
        "mytorch/._tensor.py": b"\0",
    }
    buffer = io.BytesIO(tar_of({**GOOD, **extras}))
    unpacked = unpack(tmp_path, buffer.getvalue())
    assert unpacked.files == sorted(GOOD)
    assert unpacked.ignored == sorted(extras)
    kept = {path for path in snapshot(tmp_path / "work/dest") if (tmp_path / "work/dest" / path).is_file()}
    assert kept == set(GOOD)


def test_ignored_folders_are_listed_with_a_slash(tmp_path):
    data = tar_with(member("hw1", kind=tarfile.DIRTYPE), member("mytorch/__pycache__", kind=tarfile.DIRTYPE))
    assert unpack(tmp_path, data).ignored == ["hw1/", "mytorch/__pycache__/"]
    assert not (tmp_path / "work/dest/mytorch/__pycache__").exists()


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compressed_archives_are_recognized_by_content_not_name(tmp_path, mode):
    unpacked = unpack(tmp_path, tar_of(GOOD, mode), name="handin.tar")  # the name says plain tar
    assert unpacked.files == sorted(GOOD)
    assert (tmp_path / "work/dest/mytorch/tensor.py").read_bytes() == GOOD["mytorch/tensor.py"]


def test_plain_tar_named_like_a_gzip_is_still_a_plain_tar(tmp_path):
    assert unpack(tmp_path, tar_of(GOOD), name="handin.tar.gz").files == sorted(GOOD)


# Unsafe members


@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "/mytorch/tensor.py"])
def test_absolute_path_member_is_refused(tmp_path, name):
    message = refusal(tar_with(member(name, 1), data=b"x"), tmp_path)
    assert f"handin.tar has an absolute path: {name!r}" in message


@pytest.mark.parametrize("name", ["../evil.py", "mytorch/../../evil.py", "hw1/../../../evil.py", ".."])
def test_dotdot_member_is_refused(tmp_path, name):
    message = refusal(tar_with(member(name, 1), data=b"x"), tmp_path)
    assert message == f"handin.tar has a path that leaves the folder: {name!r}"
    assert not (tmp_path / "evil.py").exists() and not (tmp_path.parent / "evil.py").exists()


@pytest.mark.parametrize("name", ["mytorch/tensor2.py", "hw1/passwd"])  # kept or ignored: refused alike
def test_symlink_member_is_refused(tmp_path, name):
    link = member(name, kind=tarfile.SYMTYPE, linkname="/etc/passwd")
    message = refusal(tar_with(link), tmp_path)
    assert message == f"handin.tar contains a link, which is not allowed: {name!r} -> '/etc/passwd'"


def test_hardlink_member_is_refused(tmp_path):
    link = member("mytorch/copy.py", kind=tarfile.LNKTYPE, linkname="mytorch/tensor.py")
    assert "contains a link, which is not allowed: 'mytorch/copy.py'" in refusal(tar_with(link), tmp_path)


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_and_fifo_members_are_refused(tmp_path, kind):
    special = member("hw1/null", kind=kind, devmajor=1, devminor=3)
    message = refusal(tar_with(special), tmp_path)
    assert message == "handin.tar contains a special file (device, fifo...), which is not allowed: 'hw1/null'"


def test_other_member_types_are_refused(tmp_path):
    message = refusal(tar_with(member("mytorch/odd.py", 3, kind=b"Z"), data=b"abc"), tmp_path)
    assert "neither a regular file nor a folder (tar type b'Z'): 'mytorch/odd.py'" in message


def pax_record(key: str, value: str) -> bytes:
    """One "length key=value" line of a pax extended header."""
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


@pytest.mark.parametrize("encoding", ["old GNU", "pax 0.0", "pax 0.1", "pax 1.0"])
def test_sparse_files_are_refused_in_every_encoding(tmp_path, encoding):
    """tarfile turns a sparse map into Python objects as it reads the headers: a pax map of 27 MB
    took 1.4 GB in the API before any other check."""
    if encoding == "old GNU":
        data = tar_with(member("mytorch/odd.py", 3, kind=tarfile.GNUTYPE_SPARSE), data=b"abc")
    else:
        records = {
            "pax 0.0": pax_record("GNU.sparse.size", "3") + pax_record("GNU.sparse.offset", "0"),
            "pax 0.1": pax_record("GNU.sparse.map", "0,3") + pax_record("GNU.sparse.size", "3"),
            "pax 1.0": pax_record("GNU.sparse.major", "1") + pax_record("GNU.sparse.minor", "0"),
        }[encoding]
        header = member("././@PaxHeader", len(records), kind=tarfile.XHDTYPE).tobuf(
            format=tarfile.USTAR_FORMAT
        )
        padded = records + bytes(-len(records) % tarfile.BLOCKSIZE)
        data = header + padded + tar_with(member("mytorch/odd.py", 3), data=b"abc")
    assert refusal(data, tmp_path) == "handin.tar contains a sparse file, which is not allowed"


def test_long_names_in_pax_headers_are_read_as_usual(tmp_path):
    name = "mytorch/" + "a" * 150 + ".py"  # over the 100 characters of a plain header: a pax record holds it
    unpacked = unpack(tmp_path, tar_of({**GOOD, name: b"x = 1\n"}))
    assert (unpacked.root / name).read_text() == "x = 1\n" and name in unpacked.files


@pytest.mark.parametrize(
    "name",
    [
        "mytorch/a\x00b.py",
        "mytorch/bad\x01name.py",
        "mytorch/new\nline.py",
        "hw1/\x1b[31mred",
        "mytorch/\u200b.py",
    ],
)
def test_control_or_unprintable_characters_in_names_are_refused(tmp_path, name):
    # A NUL ends the name field of a tar header, so the name goes in a pax header, as an attacker would.
    hostile = member("mytorch/x.py", 1, pax_headers={"path": name})
    message = refusal(tar_with(hostile, data=b"x", fmt=tarfile.PAX_FORMAT), tmp_path)
    assert (
        message
        == f"handin.tar has a member with an invalid name (control or unprintable characters): {name!r}"
    )


@pytest.mark.parametrize("name", ["mytorch//x.py", "hw1//notes"])
def test_empty_name_components_are_refused(tmp_path, name):
    hostile = member("mytorch/x.py", 1, pax_headers={"path": name})
    message = refusal(tar_with(hostile, data=b"x", fmt=tarfile.PAX_FORMAT), tmp_path)
    assert "invalid name (an empty folder name)" in message


def test_non_ascii_printable_names_are_kept(tmp_path):
    assert "mytorch/réseau.py" in unpack(tmp_path, tar_of({**GOOD, "mytorch/réseau.py": b""})).files


def test_overlong_name_is_refused(tmp_path):
    data = tar_of({**GOOD, "mytorch/" + "a" * 300 + ".py": b""})
    assert "name is too long" in refusal(data, tmp_path)


def test_duplicate_file_is_refused(tmp_path):
    data = tar_with(member("mytorch/tensor.py", 1), data=b"y")
    assert refusal(data, tmp_path) == "handin.tar lists 'mytorch/tensor.py' twice"


def test_file_and_folder_with_the_same_name_are_refused(tmp_path):
    data = tar_of({"mytorch/a": b"1", "mytorch/a/b.py": b"2"})
    assert refusal(data, tmp_path) == "handin.tar has both a file and a folder named 'mytorch/a'"


# Limits


def test_too_many_members_are_refused(tmp_path):
    data = tar_of({f"mytorch/m{index}.py": b"" for index in range(30)})
    assert refusal(data, tmp_path, UnpackLimits(max_members=20)) == "handin.tar has more than 20 members"


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_too_much_unpacked_data_is_refused(tmp_path, mode):
    data = tar_of({**GOOD, "hw1/data.py": random.Random(0).randbytes(300_000)}, mode)
    message = refusal(data, tmp_path, UnpackLimits(max_unpacked_bytes=100_000))
    assert message == "handin.tar unpacks to more than 100000 bytes"


def test_archive_over_the_size_limit_is_refused(tmp_path):
    data = tar_of({**GOOD, "mytorch/big.py": random.Random(0).randbytes(50_000)})
    message = refusal(data, tmp_path, UnpackLimits(max_archive_bytes=40_000))
    assert message.startswith(f"handin.tar is {len(data)} bytes; the limit is 40000 bytes")


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """One member announcing 200 MB of zeros, gzipped to about 200 KB (built in about half a second)."""
    return gzip_stream(member("mytorch/zeros.py", 200 << 20).tobuf(), zeros_mb=200, tail=bytes(1024))


def test_gzip_bomb_is_refused_quickly_without_writing_it(tmp_path, gzip_bomb):
    assert len(gzip_bomb) < 300_000
    started = time.monotonic()
    message = refusal(gzip_bomb, tmp_path)
    assert time.monotonic() - started < 1
    assert message.startswith("handin.tar is compressed suspiciously well")
    assert "compression bomb" in message


def test_gzip_bomb_is_refused_by_size_when_the_ratio_is_allowed(tmp_path, gzip_bomb):
    limits = UnpackLimits(max_ratio=1e9)
    assert refusal(gzip_bomb, tmp_path, limits) == "handin.tar unpacks to more than 20971520 bytes"


@pytest.mark.parametrize("where", ["pax header", "long name", "after the end"])
def test_bomb_that_no_file_header_announces_is_stopped_while_streaming(tmp_path, where):
    # tarfile reads pax and GNU long-name records whole, into memory, before we see a member: only the
    # byte budget on the decompressed stream stops these, and it must do so without reading them all.
    kind = {"pax header": tarfile.XHDTYPE, "long name": tarfile.GNUTYPE_LONGNAME}.get(where)
    if kind is None:
        data = gzip_stream(tar_with(), zeros_mb=64)
    else:
        header = member("././@Bomb", 64 << 20, kind=kind).tobuf(format=tarfile.USTAR_FORMAT)
        data = gzip_stream(header, zeros_mb=64, tail=tar_with())
    tracemalloc.start()
    try:
        message = refusal(data, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if kind is None:
        assert message == "handin.tar unpacks to more than 20971520 bytes" or "compression bomb" in message
    else:  # refused from its header, before a byte of it is read
        assert message.startswith(
            "handin.tar has a tar extended header of 67108864 bytes (the limit is 65536)"
        )
    assert peak < 60 << 20  # at most the budget (20 MB of files + room for headers), never the 64 MB


def data_offset(data: bytes, name: str) -> tuple[int, int]:
    """Where the header of member `name` starts in the plain tar `data`, and where its data ends."""
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        info = archive.getmember(name)
    return info.offset, info.offset_data + info.size


def test_lying_header_sizes_are_refused_as_damaged(tmp_path):
    # tarfile reads exactly `size` bytes for a member, so a header cannot make us write more than it declares
    # (and the declared sizes are counted against the limits). What a lie can do is desynchronize the stream:
    # data left over is then read as a header, and data missing hits the end. Both must be refused.
    honest = bytearray(tar_of({**GOOD, "mytorch/data.py": b"x" * 2000}))
    header, _ = data_offset(bytes(honest), "mytorch/data.py")
    for claimed, phrase in [(10, "it ends in the middle"), (100_000, "unexpected end of data")]:
        lying = honest.copy()
        lying[header : header + 512] = member("mytorch/data.py", claimed).tobuf(format=tarfile.GNU_FORMAT)
        message = refusal(bytes(lying), tmp_path / str(claimed))
        assert message.startswith("handin.tar is damaged or truncated") and phrase in message


def test_negative_member_size_is_refused(tmp_path):
    data = tar_with(
        member("mytorch/x.py", 3, pax_headers={"size": "-2048"}), data=b"abc", fmt=tarfile.PAX_FORMAT
    )
    assert "negative size for 'mytorch/x.py'" in refusal(data, tmp_path)


# Not a (whole) tar


def test_empty_file_is_refused(tmp_path):
    assert refusal(b"", tmp_path) == "handin.tar is empty (0 bytes); create it with create_tarball.sh"


@pytest.mark.parametrize(
    "data,hint",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(2000), ": it looks like a PNG image"),
        (b"PK\x03\x04" + bytes(2000), ": it looks like a zip file"),
        (random.Random(1).randbytes(5000), ""),
        (b"print('hello')\n" * 100, ""),
        (
            gzip.compress(b"print('hello')\n" * 100, mtime=0),
            ": it is gzip-compressed, but what is inside is not a tar",
        ),
    ],
)
def test_non_tar_input_is_refused(tmp_path, data, hint):
    message = refusal(data, tmp_path)
    assert message == (
        "this is not a tar archive (did you upload the right file? create handin.tar with create_tarball.sh)"
        + hint
    )


def test_truncated_plain_tar_is_refused(tmp_path):
    whole = tar_of({**GOOD, "mytorch/data.py": random.Random(0).randbytes(5000)})
    header, data_end = data_offset(whole, "mytorch/data.py")
    # Inside a header, inside the data, and right after the data (where the end marker should be). Cuts in
    # the zero padding after the end marker lose nothing, and tar accepts them too.
    for cut in (header + 100, header + 2600, data_end + 300):
        message = refusal(whole[:cut], tmp_path / str(cut))
        assert message.startswith("handin.tar is damaged or truncated"), message


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_truncated_compressed_archive_is_refused(tmp_path, mode):
    whole = tar_of({**GOOD, "mytorch/data.py": random.Random(0).randbytes(5000)}, mode)
    for cut in (len(whole) // 2, len(whole) - 5):  # the decompressor's checks see even the last bytes go
        message = refusal(whole[:cut], tmp_path / str(cut))
        assert message.startswith("handin.tar is damaged or truncated"), message


def test_archive_without_end_marker_is_refused(tmp_path):
    whole = tar_of(GOOD)
    _, data_end = data_offset(whole, "mytorch/nn/linear.py")  # the last member
    assert "no end-of-archive marker" in refusal(whole[: data_end + (-data_end % 512)], tmp_path)


def test_corrupted_archives_only_ever_raise_handin_error():
    rng = random.Random(1234)
    originals = [tar_of(GOOD, mode) for mode in ("w", "w:gz", "w:bz2", "w:xz")]
    for _ in range(1500):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 6)):
            if not data:
                break
            position = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[position] = rng.randrange(256)
            else:
                del data[position : position + rng.randint(1, 2000)]
        with suppress(HandinError):  # anything else fails the test
            inspect_handin(bytes(data))


# What is missing


def test_missing_mytorch_is_refused(tmp_path):
    message = refusal(tar_of({"hw1/mlp.py": b"", "handin/hw1/mlp.py": b""}), tmp_path)
    assert message == (
        "no mytorch/ folder found in handin.tar; create it with create_tarball.sh "
        "(it must contain mytorch/ at the top level)"
    )


def test_mytorch_without_a_python_file_is_refused(tmp_path):
    data = tar_of({"mytorch/notes.txt": b"", "mytorch/__pycache__/x.py": b""})
    assert "the mytorch/ folder in handin.tar has no .py file" in refusal(data, tmp_path)


def test_missing_archive_file_is_refused(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(HandinError, match="handin.tar was not found"):
        unpack_handin(tmp_path / "nope.tar", dest)


def test_dest_must_be_an_empty_folder(tmp_path):
    archive = tmp_path / "handin.tar"
    archive.write_bytes(tar_of(GOOD))
    with pytest.raises(ValueError, match="empty folder"):
        unpack_handin(archive, tmp_path)  # holds handin.tar


# inspect_handin


def test_inspect_handin_accepts_a_good_upload_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tar_of({**GOOD, "hw1/mlp.py": b"", "mytorch/__pycache__/t.pyc": b""}, "w:gz")
    assert inspect_handin(data) == sorted(GOOD)
    assert inspect_handin(memoryview(data)) == sorted(GOOD)
    assert os.listdir(tmp_path) == []


def test_inspect_handin_refuses_bad_uploads_with_the_unpack_messages(tmp_path):
    bad = {
        "symlink": tar_with(member("mytorch/t.py", kind=tarfile.SYMTYPE, linkname="/etc/passwd")),
        "dotdot": tar_with(member("../evil.py", 1), data=b"x"),
        "empty": b"",
        "png": b"\x89PNG\r\n\x1a\n" + bytes(100),
        "no mytorch": tar_of({"hw1/mlp.py": b""}),
    }
    messages = {}
    for name, data in bad.items():
        messages[name] = refusal(data, tmp_path / name)  # refusal compares inspect with unpack
    assert len(set(messages.values())) == len(bad)
