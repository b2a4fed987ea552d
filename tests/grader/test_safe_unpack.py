"""Safe unpacking of untrusted archives: what is kept, what is refused, and that nothing escapes."""

from __future__ import annotations

import io
import os
import tarfile
import time

import pytest
from tests_support import tar_bytes

from grader.unpack import HandinError, UnpackLimits, inspect_handin, unpack_handin

GOOD = {"mytorch/__init__.py": b"", "mytorch/tensor.py": b"x = 1\n", "mytorch/nn/linear.py": b"y = 2\n"}


def unpack(tmp_path, data: bytes, limits: UnpackLimits | None = None):
    archive = tmp_path / "handin.tar"
    archive.write_bytes(data)
    dest = tmp_path / "out"
    dest.mkdir()
    return unpack_handin(archive, dest, limits)


def tar_with_member(member: tarfile.TarInfo, data: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(tarfile.TarInfo("mytorch/__init__.py"), io.BytesIO(b""))
        archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def test_correct_handin_unpacks_only_mytorch_with_safe_modes(tmp_path):
    unpacked = unpack(
        tmp_path,
        tar_bytes(
            {
                **GOOD,
                "hw1/mlp.py": b"",
                "mytorch/__pycache__/t.cpython-37.pyc": b"",
                "mytorch/._tensor.py": b"",
                "README": b"",
            }
        ),
    )
    assert unpacked.files == sorted(GOOD)
    assert set(unpacked.ignored) == {
        "hw1/mlp.py",
        "mytorch/__pycache__/t.cpython-37.pyc",
        "mytorch/._tensor.py",
        "README",
    }
    assert sorted(os.listdir(tmp_path / "out")) == ["mytorch"]
    assert (tmp_path / "out/mytorch/nn/linear.py").read_bytes() == b"y = 2\n"
    assert oct((tmp_path / "out/mytorch/tensor.py").stat().st_mode & 0o777) == "0o644"
    assert oct((tmp_path / "out/mytorch/nn").stat().st_mode & 0o777) == "0o755"


def test_mytorch_one_folder_down_is_found(tmp_path):
    unpacked = unpack(tmp_path, tar_bytes({f"handin/{name}": data for name, data in GOOD.items()}))
    assert unpacked.files == sorted(GOOD)


def test_top_level_mytorch_wins_over_a_nested_copy(tmp_path):
    data = tar_bytes({**GOOD, "old/mytorch/tensor.py": b"stale = True\n"})
    assert unpack(tmp_path, data).files == sorted(GOOD)
    assert (tmp_path / "out/mytorch/tensor.py").read_bytes() == b"x = 1\n"


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compressed_archives_are_accepted(tmp_path, mode):
    assert unpack(tmp_path, tar_bytes(GOOD, mode)).files == sorted(GOOD)


@pytest.mark.parametrize(
    "name,phrase",
    [
        ("/etc/cron.d/evil", "absolute path"),
        ("mytorch/../../evil.py", "leaves the folder"),
        ("mytorch/bad\x01name.py", "invalid name"),
    ],
)
def test_unsafe_names_are_refused(tmp_path, name, phrase):
    member = tarfile.TarInfo(name)
    member.size = 1
    with pytest.raises(HandinError, match=phrase):
        unpack(tmp_path, tar_with_member(member, b"x"))
    assert not (tmp_path.parent / "evil.py").exists()


@pytest.mark.parametrize(
    "kind,phrase",
    [
        (tarfile.SYMTYPE, "link"),
        (tarfile.LNKTYPE, "link"),
        (tarfile.CHRTYPE, "special file"),
        (tarfile.BLKTYPE, "special file"),
        (tarfile.FIFOTYPE, "special file"),
    ],
)
def test_links_devices_and_fifos_are_refused_even_outside_mytorch(tmp_path, kind, phrase):
    member = tarfile.TarInfo("hw1/thing")
    member.type = kind
    member.linkname = "/etc/passwd"
    with pytest.raises(HandinError, match=phrase):
        unpack(tmp_path, tar_with_member(member))
    assert not (tmp_path / "out" / "mytorch").exists()


def test_too_many_members_are_refused(tmp_path):
    files = {f"mytorch/m{i}.py": b"" for i in range(30)}
    with pytest.raises(HandinError, match="more than 20 members"):
        unpack(tmp_path, tar_bytes(files), UnpackLimits(max_members=20))


def test_too_much_unpacked_data_is_refused(tmp_path):
    with pytest.raises(HandinError, match="unpacks to more than"):
        unpack(
            tmp_path, tar_bytes({"mytorch/a.py": b"#" * 300_000}), UnpackLimits(max_unpacked_bytes=100_000)
        )


def test_gzip_bomb_is_refused_quickly_without_filling_the_disk(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for index in range(12):  # 180 MB of zeros in about 180 KB
            member = tarfile.TarInfo(f"mytorch/zeros{index}.py")
            member.size = 15 << 20
            archive.addfile(member, io.BytesIO(bytes(member.size)))
    started = time.monotonic()
    with pytest.raises(HandinError, match="compression bomb"):
        unpack(tmp_path, buffer.getvalue(), UnpackLimits(max_unpacked_bytes=1 << 30))
    assert time.monotonic() - started < 2
    assert not (tmp_path / "out" / "mytorch").exists() and not (tmp_path / "out" / ".staging").exists()


@pytest.mark.parametrize(
    "data,phrase",
    [(b"", "is empty"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 600, "not a tar"), (b"hello" * 300, "not a tar")],
)
def test_empty_or_non_tar_input_gives_a_clear_message(tmp_path, data, phrase):
    with pytest.raises(HandinError, match=phrase):
        unpack(tmp_path, data)


def test_truncated_archive_gives_a_clear_message(tmp_path):
    data = tar_bytes({"mytorch/a.py": b"#" * 5000})
    with pytest.raises(HandinError, match="damaged or truncated|truncated"):
        unpack(tmp_path, data[:3000])


def test_missing_mytorch_and_missing_file_give_clear_messages(tmp_path):
    with pytest.raises(HandinError, match="no mytorch/ folder"):
        unpack(tmp_path, tar_bytes({"hw1/mlp.py": b""}))
    with pytest.raises(HandinError, match="not found"):
        unpack_handin(tmp_path / "nope.tar", tmp_path)


def test_inspect_agrees_with_unpack_and_writes_nothing(tmp_path):
    before = sorted(os.listdir(tmp_path))
    assert inspect_handin(tar_bytes({**GOOD, "hw1/x.py": b""})) == sorted(GOOD)
    with pytest.raises(HandinError, match="no mytorch/ folder"):
        inspect_handin(tar_bytes({"hw1/mlp.py": b""}))
    assert sorted(os.listdir(tmp_path)) == before
