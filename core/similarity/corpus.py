"""Archives of earlier semesters' handins for the similarity check: a tar (any compression) whose
files are handin tars, as Autolab's "download all handins" gives them. Read in memory, never unpacked.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from grader.unpack import READ_ERRORS, HandinError, UnpackLimits, read_handin_files

HANDIN_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


@dataclass(frozen=True)
class CorpusLimits:
    max_members: int = 20_000
    max_handins: int = 5_000
    max_total_bytes: int = 1 << 30  # every file of the archive together, decompressed
    handin: UnpackLimits = field(default_factory=UnpackLimits)


@dataclass(frozen=True)
class ArchivedHandin:
    name: str  # the member's path without its suffix, e.g. "f20/alice_3_handin"
    files: dict[str, bytes]  # mytorch/... -> bytes
    data: bytes  # the handin tar itself


@dataclass
class Skipped:
    name: str
    reason: str


def handin_name(path: str) -> str | None:
    """The name of a handin tar member (letters, digits and `._-@/` only), or None if it is not one."""
    for suffix in HANDIN_SUFFIXES:
        if path.lower().endswith(suffix) and len(path) > len(suffix):
            name = str(PurePosixPath(path[: -len(suffix)])).lstrip("./")
            return re.sub(r"[^\w.@/-]", "_", name)[-200:] or "_"
    return None


def read_corpus(
    data: bytes, limits: CorpusLimits | None = None, skipped: list[Skipped] | None = None
) -> Iterator[ArchivedHandin]:
    """The readable handins of an archive, one at a time; unreadable ones go to `skipped` with why.

    Raises HandinError if the archive itself is not a tar or breaks a limit.
    """
    limits = limits or CorpusLimits()
    skipped = skipped if skipped is not None else []
    members = handins = total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:  # a stream: one pass
            for member in archive:
                members += 1
                if members > limits.max_members:
                    raise HandinError(f"the archive holds more than {limits.max_members} entries")
                if not member.isreg():
                    continue
                total += member.size  # skipped files count too: the stream decompresses them all
                if total > limits.max_total_bytes:
                    raise HandinError(f"the archive holds more than {limits.max_total_bytes} bytes")
                name = handin_name(member.name)
                if name is None:
                    continue
                if member.size > limits.handin.max_archive_bytes:
                    skipped.append(Skipped(name, f"larger than {limits.handin.max_archive_bytes} bytes"))
                    continue
                handins += 1
                if handins > limits.max_handins:
                    raise HandinError(f"the archive holds more than {limits.max_handins} handins")
                handin = archive.extractfile(member).read()
                try:
                    files = read_handin_files(handin, limits.handin)
                except HandinError as error:
                    skipped.append(Skipped(name, str(error)))
                    continue
                yield ArchivedHandin(name, files, handin)
    except HandinError:
        raise
    except READ_ERRORS as error:
        raise HandinError(f"this is not a readable tar archive of handins ({error})") from None


def check_corpus(data: bytes) -> None:
    """A quick look before an archive is stored: HandinError unless it opens as a tar with a file."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:
            if next(iter(archive), None) is None:
                raise HandinError("the archive is empty")
    except HandinError:
        raise
    except READ_ERRORS as error:
        raise HandinError(f"this is not a tar archive of handins ({error})") from None
