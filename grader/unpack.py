"""Safe extraction of an untrusted handin.tar: only the regular files of its mytorch/ package, in limits."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

PACKAGE = "mytorch"
ARCHIVE = "handin.tar"  # what the student calls the file, in every message
CHUNK = 64 * 1024
MIN_BYTES_FOR_RATIO = 1 << 20  # small archives (mostly tar padding) compress well without being bombs
HEADER_BYTES_PER_MEMBER = 4096  # room for tar headers, long names and padding in the decompressed stream
MAX_NAME_CHARS = 1024
MAX_COMPONENT_BYTES = 255
MAX_EXTENDED_HEADER_BYTES = 64 * 1024  # a pax or GNU long-name record: long names, times, a Mac's xattrs
EXTENDED_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
IGNORED_NAMES = {"__pycache__", ".DS_Store", ".git", ".ipynb_checkpoints"}
IGNORED_SUFFIXES = (".pyc", ".pyo")
PLAIN_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
SPECIAL_TYPES = (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)
# Everything a hostile or broken archive can make tarfile or a decompressor raise.
READ_ERRORS = (
    tarfile.TarError,
    EOFError,
    OSError,
    ValueError,
    OverflowError,
    IndexError,
    zlib.error,
    lzma.LZMAError,
)
COMPRESSIONS: dict[bytes, tuple[str, Callable[[BinaryIO], BinaryIO]]] = {  # magic -> name, decompressor
    b"\x1f\x8b": ("gzip", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),  # noqa: SIM115
    b"BZh": ("bzip2", lambda raw: bz2.BZ2File(raw, mode="rb")),  # noqa: SIM115
    b"\xfd7zXZ\x00": ("xz", lambda raw: lzma.LZMAFile(raw, mode="rb", format=lzma.FORMAT_XZ)),  # noqa: SIM115
}
LOOKALIKES = {
    b"PK\x03\x04": "a zip file",
    b"PK\x05\x06": "an empty zip file",
    b"\x28\xb5\x2f\xfd": "a zstd-compressed file (not supported)",
    b"Rar!": "a rar archive",
    b"7z\xbc\xaf\x27\x1c": "a 7z archive",
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
}
NOT_A_TAR = (
    "this is not a tar archive (did you upload the right file? create {archive} with create_tarball.sh)"
)
NO_PACKAGE = (
    f"no {PACKAGE}/ folder found in {ARCHIVE}; create it with create_tarball.sh "
    f"(it must contain {PACKAGE}/ at the top level)"
)


class HandinError(Exception):
    """The handin cannot be graded; str(error) is a clear message for the student."""


@dataclass(frozen=True)
class UnpackLimits:
    """How much a handin may hold; anything beyond is refused before it is written."""

    max_members: int = 2000
    max_unpacked_bytes: int = 20 * 1024 * 1024
    max_ratio: float = 100.0  # unpacked bytes / archive bytes (compression bombs)
    max_archive_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Unpacked:
    """The result of unpack_handin."""

    root: Path  # folder that contains exactly one entry: mytorch/
    files: list[str]  # relative paths of the regular files kept, e.g. "mytorch/tensor.py", sorted
    ignored: list[str]  # member names skipped (extras such as hw1/, __pycache__, .DS_Store), for the log


@dataclass(frozen=True)
class _Plan:
    """What a validated archive holds: the chosen mytorch/ prefix, its files and folders, what is skipped."""

    prefix: str  # "" for a top-level mytorch/, else the folder that holds it
    files: list[str]
    folders: list[str]
    ignored: list[str]


def _damaged(detail: object) -> HandinError:
    return HandinError(
        f"{ARCHIVE} is damaged or truncated ({detail}); create it again with create_tarball.sh"
    )


class _Budget:
    """Forward-only reader over the decompressed tar stream that refuses to deliver more than `budget` bytes.

    Every byte tarfile sees passes through here (headers, pax and long-name records, file data, skipped
    data), so a compression bomb is stopped after `budget` bytes whatever the headers claim.
    """

    def __init__(self, source: BinaryIO, budget: int, over_budget: Callable[[], HandinError]):
        self.source = source
        self.budget = budget
        self.over_budget = over_budget
        self.position = 0
        self.last = b""  # the last block read: after the last member, the end-of-archive block

    def read(self, size: int | None = -1) -> bytes:
        allowed = self.budget - self.position + 1  # one byte more than allowed tells a bomb from a fit
        size = allowed if size is None or size < 0 else min(size, allowed)
        try:
            data = self.source.read(size)
        except READ_ERRORS as error:
            raise _damaged(error) from None
        self.position += len(data)
        if self.position > self.budget:
            raise self.over_budget()
        self.last = data
        return data

    def tell(self) -> int:
        return self.position

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or position < self.position:
            raise _damaged("a member points backwards")  # tarfile only seeks forward, unless a size is forged
        while self.position < position and self.read(min(CHUNK, position - self.position)):
            pass
        return self.position

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


class _CheckedTarInfo(tarfile.TarInfo):
    """Refuses, as tarfile reads the headers and before any other check sees a member, the records
    that would make tarfile build large structures in memory: extended headers (pax, GNU long names)
    over MAX_EXTENDED_HEADER_BYTES, and sparse files in any of their encodings (a pax sparse map of a
    few megabytes becomes millions of Python objects)."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _sparse()
        if self.type in EXTENDED_TYPES and self.size > MAX_EXTENDED_HEADER_BYTES:
            raise HandinError(
                f"{ARCHIVE} has a tar extended header of {self.size} bytes (the limit is "
                f"{MAX_EXTENDED_HEADER_BYTES}): make it with create_tarball.sh"
            )
        return super()._proc_member(archive)

    def _proc_gnusparse_00(self, *_) -> None:
        raise _sparse()

    _proc_gnusparse_01 = _proc_gnusparse_10 = _proc_gnusparse_00


def _sparse() -> HandinError:
    return HandinError(f"{ARCHIVE} contains a sparse file, which is not allowed")


def _recognize(data: bytes) -> tuple[str, Callable[[BinaryIO], BinaryIO]] | None:
    """The compression of `data`, judged by content; a valid tar header wins, as in tarfile's "r:*"."""
    try:
        tarfile.TarInfo.frombuf(data[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
        return None
    except (tarfile.TarError, ValueError, OverflowError):
        pass
    for magic, compression in COMPRESSIONS.items():
        if data.startswith(magic):
            return compression
    return None


def _not_a_tar(data: bytes, compression: str | None) -> HandinError:
    message = NOT_A_TAR.format(archive=ARCHIVE)
    if compression:
        return HandinError(f"{message}: it is {compression}-compressed, but what is inside is not a tar")
    for magic, what in LOOKALIKES.items():
        if data.startswith(magic):
            return HandinError(f"{message}: it looks like {what}")
    return HandinError(message)


def _open(data: bytes, limits: UnpackLimits) -> tuple[_Budget, tarfile.TarFile, str | None]:
    """Opens the (possibly compressed) tar in `data` behind a byte budget; also returns the compression."""
    if not data:
        raise HandinError(f"{ARCHIVE} is empty (0 bytes); create it with create_tarball.sh")
    if len(data) > limits.max_archive_bytes:
        raise _archive_too_large(len(data), limits)
    recognized = _recognize(data)
    compression = recognized[0] if recognized else None
    source = recognized[1](io.BytesIO(data)) if recognized else io.BytesIO(data)
    size_budget = limits.max_unpacked_bytes + HEADER_BYTES_PER_MEMBER * (limits.max_members + 8)
    if compression and _ratio_budget(data, limits) < size_budget:
        stream = _Budget(source, _ratio_budget(data, limits), lambda: _bomb(limits))
    else:
        stream = _Budget(source, size_budget, lambda: _unpacks_too_large(limits))
    try:
        archive = tarfile.open(fileobj=stream, mode="r:", tarinfo=_CheckedTarInfo)  # noqa: SIM115
    except READ_ERRORS:
        raise _not_a_tar(data, compression) from None
    return stream, archive, compression


def _ratio_budget(data: bytes, limits: UnpackLimits) -> int:
    """How many decompressed bytes `data` may stand for before it counts as a compression bomb."""
    return max(MIN_BYTES_FOR_RATIO, int(limits.max_ratio * len(data)))


def _bomb(limits: UnpackLimits) -> HandinError:
    return HandinError(
        f"{ARCHIVE} is compressed suspiciously well (it would unpack to more than {limits.max_ratio:g} times "
        "its size): is it a compression bomb?"
    )


def _archive_too_large(size: int, limits: UnpackLimits) -> HandinError:
    return HandinError(
        f"{ARCHIVE} is {size} bytes; the limit is {limits.max_archive_bytes} bytes "
        f"(only {PACKAGE}/ is needed: leave data files and checkpoints out)"
    )


def _unpacks_too_large(limits: UnpackLimits) -> HandinError:
    return HandinError(f"{ARCHIVE} unpacks to more than {limits.max_unpacked_bytes} bytes")


def _check_name(name: str) -> tuple[str, ...]:
    """The components of a member's name, or HandinError if the name is unsafe."""
    if not name:
        raise HandinError(f"{ARCHIVE} has a member with an empty name")
    if not all(part.isprintable() for part in name.split("/")):
        raise HandinError(
            f"{ARCHIVE} has a member with an invalid name (control or unprintable characters): {name!r}"
        )
    if name.startswith("/"):
        raise HandinError(
            f"{ARCHIVE} has an absolute path: {name!r} (paths must be relative, like {PACKAGE}/tensor.py)"
        )
    parts = name.split("/")
    if ".." in parts:
        raise HandinError(f"{ARCHIVE} has a path that leaves the folder: {name!r}")
    if "" in parts:
        raise HandinError(f"{ARCHIVE} has a member with an invalid name (an empty folder name): {name!r}")
    if len(name) > MAX_NAME_CHARS or any(len(part.encode()) > MAX_COMPONENT_BYTES for part in parts):
        raise HandinError(f"{ARCHIVE} has a member whose name is too long: {name[:80]!r}...")
    return tuple(part for part in parts if part != ".")


def _check_member(member: tarfile.TarInfo) -> tuple[str, ...]:
    """The components of a safe member's name; HandinError for links, devices and other special members."""
    parts = _check_name(member.name)
    if member.issym() or member.islnk():
        raise HandinError(
            f"{ARCHIVE} contains a link, which is not allowed: {member.name!r} -> {member.linkname!r}"
        )
    if member.type in SPECIAL_TYPES:
        raise HandinError(
            f"{ARCHIVE} contains a special file (device, fifo...), which is not allowed: {member.name!r}"
        )
    if member.type not in PLAIN_TYPES and not member.isdir():
        raise HandinError(
            f"{ARCHIVE} contains a member that is neither a regular file nor a folder "
            f"(tar type {member.type!r}): {member.name!r}"
        )
    if member.size < 0:
        raise _damaged(f"negative size for {member.name!r}")
    return parts


def _locate(parts: tuple[str, ...]) -> tuple[str, str] | None:
    """(prefix, path from mytorch/ on) if `parts` lies in a mytorch/ at the top level or one folder down."""
    for depth in (0, 1):
        if len(parts) > depth and parts[depth] == PACKAGE:
            return "/".join(parts[:depth]), "/".join(parts[depth:])
    return None


def _is_ignored(parts: tuple[str, ...], is_file: bool) -> bool:
    if any(part in IGNORED_NAMES or part.startswith("._") for part in parts):
        return True
    return is_file and parts[-1].endswith(IGNORED_SUFFIXES)


_Member = tuple[tarfile.TarFile, tarfile.TarInfo, tuple[str, ...]]


def _members(data: bytes, limits: UnpackLimits) -> Iterator[_Member]:
    """Streams the archive with every check; yields each safe member with its name's components.

    Raises HandinError on the first unsafe member, on any limit, and (once exhausted) on a missing end.
    """
    stream, archive, compression = _open(data, limits)
    declared = 0
    with archive:
        try:
            for count, member in enumerate(iter(archive.next, None), start=1):
                if count > limits.max_members:
                    raise HandinError(f"{ARCHIVE} has more than {limits.max_members} members")
                parts = _check_member(member)
                if member.isfile():
                    declared += member.size
                    # Refuse from the headers alone, before decompressing anything they announce.
                    if compression and member.offset_data + member.size > _ratio_budget(data, limits):
                        raise _bomb(limits)
                    if declared > limits.max_unpacked_bytes:
                        raise _unpacks_too_large(limits)
                if parts:
                    yield archive, member, parts
        except READ_ERRORS as error:
            raise _damaged(error) from None
        # tarfile stops quietly at a damaged or missing header: only an all-zero block is a proper end.
        if stream.last != tarfile.NUL * tarfile.BLOCKSIZE:
            raise _damaged("it ends in the middle" if stream.last else "it has no end-of-archive marker")
        if compression:
            while stream.read(CHUNK):  # the rest of the stream, so the decompressor checks its trailer
                pass


class _Counter:
    """File bytes read so far, against max_unpacked_bytes (the headers were checked; this counts for real)."""

    def __init__(self, limits: UnpackLimits):
        self.limits = limits
        self.total = 0

    def take(self, size: int) -> None:
        self.total += size
        if self.total > self.limits.max_unpacked_bytes:
            raise _unpacks_too_large(self.limits)


def _chunks(archive: tarfile.TarFile, member: tarfile.TarInfo, budget: _Counter) -> Iterator[bytes]:
    """The data of a regular member, counting the bytes really read against the unpacked limit."""
    remaining = member.size
    try:
        handle = archive.extractfile(member)
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            budget.take(len(chunk))
            yield chunk
    except READ_ERRORS as error:
        raise _damaged(f"in {member.name!r}: {error}") from None
    if remaining:
        raise _damaged(f"{member.name!r} is cut short")


def _plan(data: bytes, limits: UnpackLimits) -> _Plan:
    """Validates the whole archive without writing anything, and picks the mytorch/ folder to keep."""
    entries: dict[str, list[tuple[str, bool]]] = {}  # prefix -> (path from mytorch/ on, is a file)
    ignored: list[str] = []
    budget = _Counter(limits)
    for archive, member, parts in _members(data, limits):
        located = _locate(parts)
        if member.isfile():
            for _ in _chunks(archive, member, budget):  # every byte streamed, so the counts are real
                pass
        if located is None or _is_ignored(parts, member.isfile()):
            ignored.append("/".join(parts) + ("" if member.isfile() else "/"))
            continue
        entries.setdefault(located[0], []).append((located[1], member.isfile()))
    candidates = sorted(
        prefix
        for prefix, kept in entries.items()
        if any(is_file and path.endswith(".py") for path, is_file in kept)
    )
    if not candidates:
        if entries:
            raise HandinError(
                f"the {PACKAGE}/ folder in {ARCHIVE} has no .py file; create it with create_tarball.sh"
            )
        raise HandinError(NO_PACKAGE)
    if "" in candidates:
        prefix = ""
    elif len(candidates) == 1:
        prefix = candidates[0]
    else:
        found = ", ".join(f"{candidate}/{PACKAGE}/" for candidate in candidates)
        raise HandinError(
            f"{ARCHIVE} has several {PACKAGE}/ folders ({found}); keep only one, at the top level"
        )
    files, folders = _check_layout(entries[prefix])
    for other, kept in entries.items():
        if other != prefix:
            ignored += [f"{other}/{path}" + ("" if is_file else "/") for path, is_file in kept]
    return _Plan(prefix, sorted(files), sorted(folders), sorted(ignored))


def _check_layout(entries: list[tuple[str, bool]]) -> tuple[set[str], set[str]]:
    """The files and folders of the kept package; HandinError for duplicates and file/folder clashes."""
    files: set[str] = set()
    folders: set[str] = set()
    for path, is_file in entries:
        parents = [str(parent) for parent in PurePosixPath(path).parents if str(parent) != "."]
        if path in files and is_file:
            raise HandinError(f"{ARCHIVE} lists {path!r} twice")
        for clash in [path] if path in (folders if is_file else files) else []:
            raise HandinError(f"{ARCHIVE} has both a file and a folder named {clash!r}")
        for clash in (parent for parent in parents if parent in files):
            raise HandinError(f"{ARCHIVE} has both a file and a folder named {clash!r}")
        (files if is_file else folders).add(path)
        folders.update(parents)
    return files, folders


def _read_archive(archive: Path, limits: UnpackLimits) -> bytes:
    try:
        with open(archive, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limits.max_archive_bytes:
                raise _archive_too_large(size, limits)
            return handle.read(limits.max_archive_bytes + 1)  # _open refuses it if it grew meanwhile
    except FileNotFoundError:
        raise HandinError(f"{ARCHIVE} was not found (no file {archive.name!r})") from None
    except OSError as error:
        raise HandinError(f"{ARCHIVE} could not be read: {error.strerror or error}") from None


def _kept(data: bytes, limits: UnpackLimits, plan: _Plan) -> Iterator[tuple[str, Iterator[bytes] | None]]:
    """Streams the archive again; yields (path, data chunks or None for a folder) for each kept member."""
    wanted = set(plan.files) | set(plan.folders)
    budget = _Counter(limits)
    for archive, member, parts in _members(data, limits):
        located = _locate(parts)
        if located is not None and located[0] == plan.prefix and located[1] in wanted:
            yield located[1], _chunks(archive, member, budget) if member.isfile() else None


def unpack_handin(archive: Path, dest: Path, limits: UnpackLimits | None = None) -> Unpacked:
    """Extracts only the mytorch/ package of `archive` into `dest/mytorch` (dest must exist and be empty).

    The whole archive is validated before anything is written. Raises HandinError for a bad handin, and
    ValueError if `dest` is not an empty folder (the caller's mistake, not the student's).
    """
    limits = limits or UnpackLimits()
    data = _read_archive(archive, limits)
    plan = _plan(data, limits)
    if not dest.is_dir() or any(dest.iterdir()):
        raise ValueError(f"{dest} must be an existing, empty folder")
    try:
        _make_folders(dest, PACKAGE)
        for path, chunks in _kept(data, limits, plan):
            if chunks is None:
                _make_folders(dest, path)
                continue
            folder, _, _ = path.rpartition("/")
            _make_folders(dest, folder)
            with open(dest.joinpath(*path.split("/")), "xb") as handle:
                os.fchmod(handle.fileno(), 0o644)
                for chunk in chunks:
                    handle.write(chunk)
    except BaseException:
        shutil.rmtree(dest / PACKAGE, ignore_errors=True)
        raise
    return Unpacked(root=dest, files=plan.files, ignored=plan.ignored)


def _make_folders(dest: Path, path: str) -> None:
    """Creates dest/path and its missing parents with mode 0o755, whatever the umask."""
    folder = dest
    for part in path.split("/"):
        folder = folder / part
        if not folder.is_dir():
            folder.mkdir(mode=0o755)
            folder.chmod(0o755)


def inspect_handin(data: bytes, limits: UnpackLimits | None = None) -> list[str]:
    """Validates an upload in memory without writing anything; returns the kept mytorch file list.

    Raises HandinError with the same messages as unpack_handin (the web API answers 400 with them).
    """
    return _plan(bytes(data), limits or UnpackLimits()).files


def read_handin_files(data: bytes, limits: UnpackLimits | None = None) -> dict[str, bytes]:
    """The kept mytorch files of an upload and their bytes, in memory (for viewing, never for running)."""
    limits = limits or UnpackLimits()
    data = bytes(data)
    plan = _plan(data, limits)
    return {path: b"".join(chunks) for path, chunks in _kept(data, limits, plan) if chunks is not None}
