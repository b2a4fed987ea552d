"""Similarity of handins, MOSS-style: normalised Python tokens, k-gram fingerprints chosen by
winnowing (Schleimer, Wilkerson and Aiken, SIGMOD 2003), starter code (and code staff mark as given)
excluded.

Only reads source text (the stdlib tokenizer): nothing of a handin is imported or run.
Fingerprints are stable across processes (blake2b, not Python's salted `hash`), so they can be
stored and compared incrementally: one new submission is compared against the stored ones only.
"""

from __future__ import annotations

import hashlib
import io
import keyword
import tokenize
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

K = 12  # tokens per k-gram: shorter matches are noise (a line such as `x = y.z(w)` is ~8)
WINDOW = 8  # winnowing window: every match of at least K + WINDOW - 1 tokens shares a fingerprint
MAX_SOURCE_BYTES = 1 << 20  # per file; a larger .py file is not source a student wrote
MAX_PLACES = 16  # places kept per hash: code repeated over and over is shown where it starts
MAX_TOKENS = 100_000  # per handin (a whole mytorch is about 10,000): bounds the index a handin can fill

# Token kinds dropped from the stream: layout and comments do not make code similar.
_SKIPPED = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
    tokenize.ERRORTOKEN,
}
_DOCSTRING = "\0doc"  # a placeholder while the statement is still open
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python 3.12 splits f-strings
_FSTRING_PARTS = {getattr(tokenize, name, None) for name in ("FSTRING_MIDDLE", "FSTRING_END")} - {None}


@dataclass(frozen=True)
class Token:
    text: str  # normalised: identifiers are "V", numbers "N", strings "S"; keywords and operators kept
    line: int
    end_line: int = 0  # where the token ends (a multi-line string); 0: the same line

    @property
    def last_line(self) -> int:
        return self.end_line or self.line


@dataclass(frozen=True)
class Fingerprint:
    """A winnowed k-gram hash and where its k-gram lies (file, first and last line)."""

    hash: int
    file: str
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Document:
    """A handin's fingerprints; `count` is the number of distinct hashes it holds.

    `fingerprints` may be limited to the hashes shared with another document, as long as `count`
    is the document's own total (how incremental comparison loads them from the database).
    """

    fingerprints: tuple[Fingerprint, ...]
    count: int

    @classmethod
    def of(cls, fingerprints: Iterable[Fingerprint]) -> Document:
        fingerprints = tuple(fingerprints)
        return cls(fingerprints, len({f.hash for f in fingerprints}))

    def without(self, hashes: AbstractSet[int]) -> Document:
        """The document less these hashes (code staff marked as given), its count reduced to match."""
        held = {f.hash for f in self.fingerprints} & hashes
        if not held:
            return self
        return Document(tuple(f for f in self.fingerprints if f.hash not in held), self.count - len(held))


@dataclass(frozen=True)
class Region:
    """Lines of one file that match lines of the other document."""

    file: str
    first_line: int
    last_line: int


@dataclass
class Comparison:
    shared: int  # distinct fingerprints the two documents have in common
    fraction_a: float  # of a's fingerprints, how many b shares
    fraction_b: float
    regions_a: list[Region] = field(default_factory=list)
    regions_b: list[Region] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The larger fraction: a handin copied into a bigger one still scores high."""
        return max(self.fraction_a, self.fraction_b)

    @property
    def lines_a(self) -> int:
        return sum(r.last_line - r.first_line + 1 for r in self.regions_a)

    @property
    def lines_b(self) -> int:
        return sum(r.last_line - r.first_line + 1 for r in self.regions_b)


def tokens(source: str) -> list[Token]:
    """The normalised token stream of Python source; comments and docstrings dropped.

    Source that does not tokenize (a syntax error, an unclosed bracket) keeps the tokens before it.
    """
    out: list[Token] = []
    previous = tokenize.NEWLINE  # a string right after a statement boundary is a docstring
    in_fstring = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind = token.type
            if kind in _SKIPPED:
                continue
            line, end = token.start[0], token.end[0]
            if kind == _FSTRING_START:
                in_fstring += 1
                out.append(Token("S", line))
            elif kind in _FSTRING_PARTS:
                in_fstring -= kind == getattr(tokenize, "FSTRING_END", None)
            elif in_fstring:
                continue  # the expressions inside an f-string count as part of the string
            elif kind == tokenize.STRING:
                # At the start of a statement: a docstring if the statement ends right after it.
                at_start = previous in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
                out.append(Token(_DOCSTRING if at_start else "S", line, end))
            elif kind == tokenize.NAME:
                out.append(Token(token.string if keyword.iskeyword(token.string) else "V", line))
            elif kind == tokenize.NUMBER:
                out.append(Token("N", line))
            elif kind == tokenize.NEWLINE:
                if out and out[-1].text == _DOCSTRING:
                    out.pop()  # the whole statement was a docstring
                else:
                    out.append(Token(";", line))
            elif kind == tokenize.INDENT:
                out.append(Token("{", line))
            elif (
                kind == tokenize.DEDENT
            ):  # it stands where the next statement starts: give it the block's end
                out.append(Token("}", out[-1].last_line if out else line))
            else:
                out.append(Token(token.string, line, end))
            previous = kind
            if len(out) >= MAX_TOKENS:
                break
    except (tokenize.TokenError, SyntaxError):
        pass
    return [Token("S", token.line, token.end_line) if token.text == _DOCSTRING else token for token in out]


def _hash(texts: list[str]) -> int:
    digest = hashlib.blake2b("\x1f".join(texts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # fits a signed 64-bit database column


def kgrams(stream: list[Token], k: int = K) -> list[tuple[int, int, int]]:
    """(hash, first line, last line) of every k-gram of the stream, in order."""
    texts = [token.text for token in stream]
    return [
        (_hash(texts[i : i + k]), stream[i].line, stream[i + k - 1].last_line)
        for i in range(len(stream) - k + 1)
    ]


def winnow(hashes: list[int], window: int = WINDOW) -> list[int]:
    """Robust winnowing: the position of the minimum hash of each window, each position once.
    On a tie the window keeps the previous window's pick while it is inside, else takes the
    rightmost: a run of equal hashes gives one pick per window length, not one per position."""
    if len(hashes) <= window:
        return [min(range(len(hashes)), key=lambda i: (hashes[i], -i))] if hashes else []
    chosen: list[int] = []
    best = -1
    for end in range(window - 1, len(hashes)):
        start = end - window + 1
        if best < start:  # the previous minimum left the window: scan it again
            best = min(range(start, end + 1), key=lambda i: (hashes[i], -i))
        elif hashes[end] < hashes[best]:
            best = end
        if not chosen or chosen[-1] != best:
            chosen.append(best)
    return chosen


def source_files(files: Mapping[str, bytes]) -> Iterator[tuple[str, str]]:
    """The Python sources of a handin's files, sorted by path, decoded leniently."""
    for path in sorted(files):
        if path.endswith(".py") and len(files[path]) <= MAX_SOURCE_BYTES:
            yield path, files[path].decode("utf-8", errors="replace")


@lru_cache(maxsize=64)
def code_hashes(source: str) -> frozenset[int]:
    """Every k-gram hash of one source (not only the winnowed ones): what starter or given code excludes."""
    return frozenset(h for h, _, _ in kgrams(tokens(source)))


def all_hashes(files: Mapping[str, bytes]) -> set[int]:
    """Every k-gram hash of the files' Python sources."""
    return {h for _, source in source_files(files) for h in code_hashes(source)}


def fingerprint(files: Mapping[str, bytes], starter: frozenset[int] = frozenset()) -> Document:
    """The winnowed fingerprints of a handin's Python files, less those found in the starter code;
    at most MAX_PLACES places per hash, from at most MAX_TOKENS tokens in all."""
    chosen: dict[Fingerprint, None] = {}
    places: dict[int, int] = {}
    budget = MAX_TOKENS
    for path, source in source_files(files):
        stream = tokens(source)[:budget]
        budget -= len(stream)
        grams = kgrams(stream)
        for i in winnow([h for h, _, _ in grams]):
            h, first, last = grams[i]
            if h not in starter and places.get(h, 0) < MAX_PLACES:
                places[h] = places.get(h, 0) + 1
                chosen[Fingerprint(h, path, first, last)] = None
        if budget <= 0:
            break
    return Document.of(chosen)


def merged_regions(fingerprints: Iterable[Fingerprint]) -> list[Region]:
    """Merges the line spans of fingerprints into disjoint regions per file."""
    spans = sorted((f.file, f.first_line, f.last_line) for f in fingerprints)
    regions: list[Region] = []
    for file, first, last in spans:
        if regions and regions[-1].file == file and first <= regions[-1].last_line + 1:
            if last > regions[-1].last_line:
                regions[-1] = Region(file, regions[-1].first_line, last)
        else:
            regions.append(Region(file, first, last))
    return regions


def compare(a: Document, b: Document) -> Comparison:
    """How much of a and b is the same code, and where."""
    common = {f.hash for f in a.fingerprints} & {f.hash for f in b.fingerprints}
    if not common:
        return Comparison(0, 0.0, 0.0)
    return Comparison(
        shared=len(common),
        fraction_a=len(common) / max(a.count, len(common)),
        fraction_b=len(common) / max(b.count, len(common)),
        regions_a=merged_regions(f for f in a.fingerprints if f.hash in common),
        regions_b=merged_regions(f for f in b.fingerprints if f.hash in common),
    )


def read_tree(root: Path) -> dict[str, bytes]:
    """The .py files under root, keyed by their path relative to root's parent (`mytorch/...`)."""
    return {
        path.relative_to(root.parent).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


@cache
def starter_hashes(handout_dir: Path) -> frozenset[int]:
    """The k-gram hashes of the handout's own code (mytorch and the bonus stubs)."""
    files = read_tree(handout_dir / "mytorch")
    files.update(read_tree(handout_dir / "hw1_bonus"))
    return frozenset(all_hashes(files))
