"""Which instance of each rubric case is graded: the handout's published one, or a hidden one.

A case's instance is everything drawn from np.random after its seed (the Linear inits, the batch
size, the data, the dropout masks), so a seed names an instance. The handout's local autograder
uses its published SEED, and its expected answers ship with it. The service grades on seeds
derived from the assignment's secret: a handin cannot carry the answers of instances it has never
seen, and the secret itself never enters a sandbox (only the derived seeds do, as they must: the
student's code draws from them).
"""

from __future__ import annotations

import hashlib
import hmac
from types import ModuleType

SEED_BYTES = 4  # np.random.seed takes 0 .. 2**32 - 1


def case_seeds(rubric: ModuleType, secret: bytes | None) -> dict[str, int]:
    """{case: seed}: the published SEED for every case without a secret, else one seed per case
    derived from `secret` (HMAC-SHA256 of the case name), stable for as long as the secret is."""
    if secret is None:
        return {test.case: rubric.SEED for test in rubric.TESTS}
    return {test.case: derived_seed(secret, test.case) for test in rubric.TESTS}


def derived_seed(secret: bytes, case: str) -> int:
    digest = hmac.new(secret, f"hw1-bonus/{case}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:SEED_BYTES], "big")


def problem_cases(rubric: ModuleType, seeds: dict[str, int]) -> list[tuple[str, list[tuple[str, int]]]]:
    """Each problem with its (case, seed) pairs, in rubric order: what the launcher runs."""
    return [
        (problem, [(test.case, seeds[test.case]) for test in rubric.tests_of(problem)])
        for problem in rubric.PROBLEMS
    ]


def fingerprint(secret: bytes | None) -> str:
    """A short name for the instances a secret gives ("public" without one), safe to show: it tells
    staff which secret graded a submission without revealing anything of it."""
    if secret is None:
        return "public"
    return hashlib.sha256(b"hw1-bonus instances/" + secret).hexdigest()[:12]
