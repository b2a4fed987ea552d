"""The similarity engine: what it calls the same code, what it tells apart, and what it ignores."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.handins import tar_bytes
from support.similarity_sources import DISGUISED, INDEPENDENT, edits

from core.similarity.corpus import CorpusLimits, Skipped, check_corpus, read_corpus
from core.similarity.engine import (
    MAX_PLACES,
    WINDOW,
    K,
    Token,
    compare,
    fingerprint,
    kgrams,
    read_tree,
    starter_hashes,
    tokens,
    winnow,
)
from grader.paths import HANDOUT_DIR
from grader.unpack import HandinError, UnpackLimits, read_handin_files

STARTER = starter_hashes(HANDOUT_DIR)


@pytest.fixture(scope="module")
def documents(make_handin):
    def document(name, parts=None, stub=False):
        handin = make_handin(name, edits(parts) if parts else None, stub=stub)
        return fingerprint(read_handin_files(handin.read_bytes()), STARTER)

    return {
        "reference": document("sim-reference"),
        "disguised": document("sim-disguised", DISGUISED),
        "independent": document("sim-independent", INDEPENDENT),
        "starter": document("sim-starter", stub=True),
    }


def test_a_disguised_copy_scores_as_near_identical(documents):
    comparison = compare(documents["reference"], documents["disguised"])
    assert comparison.fraction_a >= 0.85 and comparison.fraction_b >= 0.85, comparison
    files = {region.file for region in comparison.regions_a}
    assert {"mytorch/optim/adam.py", "mytorch/nn/batchnorm.py", "mytorch/nn/functional.py"} <= files


def test_independent_correct_solutions_score_low(documents):
    for other in ("reference", "disguised"):
        comparison = compare(documents["independent"], documents[other])
        assert comparison.score < 0.15, (other, comparison)


def test_the_starter_code_alone_scores_zero(documents):
    assert documents["starter"].count == 0
    for other in ("reference", "disguised", "independent"):
        assert compare(documents["starter"], documents[other]).score == 0.0


def test_code_from_the_handout_does_not_count(documents, reference_mytorch):
    with_starter = fingerprint(read_tree(reference_mytorch))
    assert with_starter.count > 5 * documents["reference"].count  # HW1P1 parts and stubs are most of it


def test_matching_regions_point_at_the_copied_lines(documents, reference_mytorch):
    comparison = compare(documents["reference"], documents["disguised"])
    adam = [r for r in comparison.regions_a if r.file == "mytorch/optim/adam.py"]
    source = (reference_mytorch / "optim" / "adam.py").read_text().splitlines()
    step = next(i for i, line in enumerate(source, 1) if "def step" in line)
    assert adam and all(step <= r.first_line <= r.last_line <= len(source) for r in adam)
    assert sum(r.last_line - r.first_line + 1 for r in adam) >= 6  # the update lines of the step


def stream(source: str) -> list[str]:
    return [token.text for token in tokens(source)]


def test_names_literals_comments_docstrings_and_layout_are_normalised():
    original = 'def f(x, n=2):\n    """Doc."""\n    # add\n    return x + n * 3.5  # tail\n'
    disguised = "def g(value,\n      k=7):\n    '''Other words.'''\n    return value + k * 1  # note\n"
    assert stream(original) == stream(disguised)
    assert stream(original) != stream(original.replace("x + n", "x - n"))
    assert "S" in stream('s = "text"\n')  # a string that is not a docstring stays


def test_sources_that_do_not_parse_still_give_tokens_and_never_raise():
    assert stream("def f(:\n  return (1,\n")[:3] == ["def", "V", "("]  # an unclosed bracket
    assert stream("x = 1\nif x:\n        y\n   z\n")[:4] == ["V", "=", "N", ";"]  # a bad dedent
    document = fingerprint({"mytorch/a.py": b"\xff\xfe bad bytes (\n", "mytorch/b.txt": b"x" * 10})
    assert document.count == 0


def test_fingerprints_are_stable_across_processes():
    code = "".join(f"def f{i}(a, b):\n    return np.sqrt(a * b + {i})\n" for i in range(9))
    script = (
        "import sys; from core.similarity.engine import fingerprint; "
        "print(sorted(f.hash for f in fingerprint({'mytorch/x.py': sys.stdin.read().encode()}).fingerprints))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            input=code,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            cwd=HANDOUT_DIR.parent,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1 and runs.pop().count(",") > 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=0, max_size=200), st.integers(1, 12))
def test_winnowing_picks_a_minimum_in_every_window(hashes, window):
    chosen = winnow(hashes, window)
    assert chosen == sorted(set(chosen))
    for start in range(max(1, len(hashes) - window + 1)):
        span = range(start, min(start + window, len(hashes)))
        if span:
            assert any(i in span and hashes[i] == min(hashes[j] for j in span) for i in chosen)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_match_as_long_as_the_guarantee_threshold_shares_a_fingerprint(data):
    """Schleimer et al.: a common run of K + WINDOW - 1 tokens is always detected."""
    alphabet = st.sampled_from(list("abcdefgh"))
    shared = data.draw(st.lists(alphabet, min_size=K + WINDOW - 1, max_size=K + WINDOW + 20))
    left = data.draw(st.lists(alphabet, max_size=40)) + shared + data.draw(st.lists(alphabet, max_size=40))
    right = data.draw(st.lists(alphabet, max_size=40)) + shared + data.draw(st.lists(alphabet, max_size=40))

    def picked(texts):
        grams = kgrams([Token(t, 1) for t in texts])
        return {grams[i][0] for i in winnow([h for h, _, _ in grams])}

    assert picked(left) & picked(right)


def corpus(members: dict[str, bytes], mode: str = "w") -> bytes:
    return tar_bytes(members, mode)


def test_an_archive_of_handin_tars_yields_each_readable_handin_and_says_why_others_were_skipped(make_handin):
    good = make_handin("corpus-good").read_bytes()
    skipped: list[Skipped] = []
    archive = corpus(
        {
            "f20/alice_1_handin.tar": good,
            "f20/bob_2_handin.tar.gz": good,
            "f20/notes.txt": b"not a handin",
            "f20/carol_1_handin.tar": b"this is not a tar",
            "f20/=cmd|evil.tar": good,
        },
        "w:gz",
    )
    handins = list(read_corpus(archive, skipped=skipped))
    assert [h.name for h in handins] == ["f20/alice_1_handin", "f20/bob_2_handin", "f20/_cmd_evil"]
    assert all("mytorch/optim/adam.py" in h.files for h in handins)
    assert [s.name for s in skipped] == ["f20/carol_1_handin"] and "not a tar" in skipped[0].reason


@pytest.mark.parametrize("data", [b"", b"plain text, not a tar", b"PK\x03\x04zip"])
def test_an_archive_that_is_not_a_tar_is_refused(data):
    with pytest.raises(HandinError):
        check_corpus(data)
    with pytest.raises(HandinError):
        list(read_corpus(data))


def test_archive_limits_hold_before_anything_large_is_read():
    handin = tar_bytes({"mytorch/a.py": b"x = 1\n"})
    many = corpus({f"h{i}.tar": handin for i in range(5)})
    with pytest.raises(HandinError, match="more than 3 handins"):
        list(read_corpus(many, CorpusLimits(max_handins=3)))
    skipped: list[Skipped] = []
    small = CorpusLimits(handin=UnpackLimits(max_archive_bytes=100))
    assert list(read_corpus(many, small, skipped)) == [] and len(skipped) == 5
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:  # a bomb: 64 MB of zeros, gzipped
        info = tarfile.TarInfo("bomb.tar")
        info.size = 64 << 20
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(HandinError, match="more than"):
        list(read_corpus(buffer.getvalue(), CorpusLimits(max_total_bytes=1 << 20)))


def test_a_run_of_equal_hashes_gives_one_pick_per_window_not_one_per_position():
    assert len(winnow([7] * 100, WINDOW)) <= 100 // WINDOW + 1


def test_a_handin_of_one_line_repeated_stays_small_and_fast():
    started = time.perf_counter()
    document = fingerprint({"mytorch/a.py": b"x = ((((((((((1))))))))))\n" * 40_000})
    assert time.perf_counter() - started < 10
    assert document.count <= 30 and len(document.fingerprints) <= MAX_PLACES * document.count


def test_matched_lines_never_reach_past_the_code():
    source = 'def f(a):\n    if a:\n        return """x\n y"""\n    return 2\n\n\n# end\n'
    stream = tokens(source)
    assert max(token.last_line for token in stream) == 5  # the last statement; not the comment, not past it
    assert [t.last_line for t in stream if t.text == "S"] == [4]  # a string over two lines ends on the 2nd
