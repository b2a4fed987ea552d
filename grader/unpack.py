"""Safe unpacking of an untrusted handin.tar: only regular files of mytorch/, within size limits."""

from __future__ import annotations

import io
import lzma
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

PACKAGE = "mytorch"
CHUNK = 64 * 1024
IGNORED_NAMES = {"__pycache__", ".DS_Store", ".git", ".ipynb_checkpoints"}
MIN_BYTES_FOR_RATIO = 1 << 20  # small archives compress well without being bombs
READ_ERRORS = (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError)


class HandinError(Exception):
    """The handin cannot be graded; str(error) is a clear message for the student."""


@dataclass(frozen=True)
class UnpackLimits:
    max_members: int = 2000
    max_unpacked_bytes: int = 20 * 1024 * 1024
    max_ratio: float = 100.0  # unpacked bytes / archive bytes
    max_archive_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Unpacked:
    root: Path  # folder that holds mytorch/
    files: list[str]  # kept files, e.g. "mytorch/tensor.py", sorted
    ignored: list[str]  # members skipped (extras such as hw1/ or __pycache__)


class _CountingReader(io.RawIOBase):
    """Counts the compressed bytes the decompressor has consumed, for the ratio check."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _package_path(name: str) -> tuple[str, PurePosixPath] | None:
    """(prefix, path from mytorch/) if `name` lies in a mytorch/ at the top or one folder down."""
    parts = PurePosixPath(name).parts
    for depth in (0, 1):
        if len(parts) > depth and parts[depth] == PACKAGE:
            return "/".join(parts[:depth]), PurePosixPath(*parts[depth:])
    return None


def _check_name(name: str) -> str:
    if not name or any(ord(c) < 32 or c == "\x7f" for c in name):
        raise HandinError(f"handin.tar has a member with an invalid name: {name!r}")
    if name.startswith("/"):
        raise HandinError(
            f"handin.tar has an absolute path: {name!r} (paths must be relative, like mytorch/...)"
        )
    parts = [part for part in PurePosixPath(name).parts if part not in ("", ".")]
    if ".." in parts:
        raise HandinError(f"handin.tar has a path that leaves the folder: {name!r}")
    return "/".join(parts)


def _is_ignored(path: PurePosixPath) -> bool:
    return any(part in IGNORED_NAMES or part.startswith("._") for part in path.parts) or path.suffix == ".pyc"


def _members(archive_file: BinaryIO, size: int, limits: UnpackLimits) -> Iterator[tuple[str, object, str]]:
    """Validates the archive while streaming it; yields (name, member, kind) with kind 'file' or 'dir'."""
    if size == 0:
        raise HandinError("handin.tar is empty (0 bytes): create it with create_tarball.sh")
    if size > limits.max_archive_bytes:
        raise HandinError(f"handin.tar is {size} bytes; the limit is {limits.max_archive_bytes} bytes")
    counter = _CountingReader(archive_file)
    try:
        archive = tarfile.open(fileobj=io.BufferedReader(counter, CHUNK), mode="r|*")  # noqa: SIM115 - closed below
    except (tarfile.TarError, OSError, EOFError) as error:
        raise HandinError(
            "this is not a tar archive (did you upload the right file? make it with "
            f"create_tarball.sh): {error}"
        ) from None
    unpacked = 0
    count = 0
    with archive:
        try:
            for member in archive:
                count += 1
                if count > limits.max_members:
                    raise HandinError(f"handin.tar has more than {limits.max_members} members")
                name = _check_name(member.name)
                if member.issym() or member.islnk():
                    raise HandinError(f"handin.tar contains a link, which is not allowed: {member.name!r}")
                if not (member.isfile() or member.isdir()):
                    raise HandinError(
                        f"handin.tar contains a special file (device, fifo...): {member.name!r}"
                    )
                unpacked += member.size + tarfile.BLOCKSIZE
                if unpacked > limits.max_unpacked_bytes:
                    raise HandinError(f"handin.tar unpacks to more than {limits.max_unpacked_bytes} bytes")
                if unpacked > MIN_BYTES_FOR_RATIO and unpacked > limits.max_ratio * max(counter.count, 1):
                    raise HandinError("handin.tar is compressed suspiciously well (a compression bomb?)")
                if name:
                    yield name, (archive, member), "file" if member.isfile() else "dir"
        except READ_ERRORS as error:
            raise HandinError(f"handin.tar is damaged or truncated: {error}") from None


def _read_member(handle, limits: UnpackLimits) -> Iterator[bytes]:
    archive, member = handle
    remaining = member.size
    try:
        stream = archive.extractfile(member)
        while remaining > 0:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    except READ_ERRORS as error:
        raise HandinError(f"handin.tar is damaged or truncated in {member.name!r}: {error}") from None
    if remaining:
        raise HandinError(f"handin.tar is truncated in {member.name!r}")


def _walk(archive_file: BinaryIO, size: int, limits: UnpackLimits, sink) -> tuple[str, list[str], list[str]]:
    """Streams the archive, handing each kept file to `sink(prefix, relative, chunks)`.

    Returns the chosen mytorch prefix, its files and the ignored members.
    """
    kept: dict[str, list[str]] = {}
    ignored: list[str] = []
    for name, handle, kind in _members(archive_file, size, limits):
        located = _package_path(name)
        if located is None or _is_ignored(located[1]):
            ignored.append(name)
            if kind == "file":
                for _ in _read_member(handle, limits):  # still read: the size and ratio checks see every byte
                    pass
            continue
        prefix, relative = located
        if kind == "file":
            sink(prefix, relative, _read_member(handle, limits))
            kept.setdefault(prefix, []).append(str(relative))
    candidates = [prefix for prefix, files in kept.items() if any(f.endswith(".py") for f in files)]
    if not candidates:
        raise HandinError(
            "no mytorch/ folder found in handin.tar; create it with create_tarball.sh "
            "(it must contain mytorch/ at the top level)"
        )
    prefix = "" if "" in candidates else sorted(candidates)[0]
    ignored += [f"{other}/{path}" for other in kept if other != prefix for path in kept[other]]
    return prefix, sorted(kept[prefix]), sorted(ignored)


def unpack_handin(archive: Path, dest: Path, limits: UnpackLimits | None = None) -> Unpacked:
    """Extracts only the mytorch/ package of `archive` into `dest/mytorch` (dest must exist and be empty)."""
    limits = limits or UnpackLimits()
    staging = dest / ".staging"
    staging.mkdir(mode=0o755)

    def sink(prefix: str, relative: PurePosixPath, chunks: Iterator[bytes]) -> None:
        target = staging / (prefix.replace("/", "_") or "_top") / relative
        for folder in reversed(target.parents):
            if not folder.exists():
                folder.mkdir(mode=0o755)
        with open(target, "xb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        target.chmod(0o644)

    try:
        with open(archive, "rb") as handle:
            prefix, files, ignored = _walk(handle, archive.stat().st_size, limits, sink)
    except FileNotFoundError:
        shutil.rmtree(staging)
        raise HandinError(f"{archive.name} was not found") from None
    except FileExistsError as error:
        shutil.rmtree(staging)
        raise HandinError(f"handin.tar lists the same file twice: {error.filename}") from None
    except BaseException:
        shutil.rmtree(staging)
        raise
    (staging / (prefix.replace("/", "_") or "_top") / PACKAGE).rename(dest / PACKAGE)
    shutil.rmtree(staging)
    return Unpacked(root=dest, files=files, ignored=ignored)


def inspect_handin(data: bytes, limits: UnpackLimits | None = None) -> list[str]:
    """Validates an upload in memory without writing anything; returns the kept mytorch files."""

    def discard(prefix: str, relative: PurePosixPath, chunks: Iterator[bytes]) -> None:
        for _ in chunks:
            pass

    _, files, _ = _walk(io.BytesIO(data), len(data), limits or UnpackLimits(), discard)
    return files


def read_handin_files(data: bytes, limits: UnpackLimits | None = None) -> dict[str, bytes]:
    """The kept mytorch files of an upload and their bytes, in memory (for viewing, never for running)."""
    contents: dict[str, bytes] = {}
    chosen: dict[str, dict[str, bytes]] = {}

    def collect(prefix: str, relative: PurePosixPath, chunks: Iterator[bytes]) -> None:
        chosen.setdefault(prefix, {})[str(relative)] = b"".join(chunks)

    prefix, files, _ = _walk(io.BytesIO(data), len(data), limits or UnpackLimits(), collect)
    contents.update((name, chosen[prefix][name]) for name in files)
    return contents
