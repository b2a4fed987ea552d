"""Sandbox overhead: grades the correct handin N times with bwrap and with unsafe-process.

    .venv/bin/python bench/grade_overhead.py [-n 20]

Prints the per-job wall and CPU time of each backend and the bwrap/unsafe ratio.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

from grader.config import GraderConfig
from grader.grade import grade_handin
from grader.paths import HANDOUT_DIR
from grader.reference import build_reference_mytorch


def correct_handin(folder: Path) -> Path:
    """folder/handin.tar: the handout's mytorch with the reference solution (it scores 25/25)."""
    mytorch = build_reference_mytorch(HANDOUT_DIR, folder)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(mytorch, arcname="mytorch")
    handin = folder / "handin.tar"
    handin.write_bytes(buffer.getvalue())
    return handin


def measure(handin: Path, sandbox: str, runs: int) -> tuple[list[float], list[float]]:
    """Grades `handin` `runs` times; the wall seconds and the report's sandbox CPU seconds of each job."""
    walls, cpus = [], []
    config = GraderConfig(sandbox=sandbox)
    for _ in range(runs):
        started = time.perf_counter()
        report = grade_handin(handin, config)
        walls.append(time.perf_counter() - started)
        cpus.append(report.cpu_s)
        assert report.total == report.max, report.log
    return walls, cpus


def compare_backends(handin: Path, runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per-job wall and CPU seconds of each backend, after two warm-up jobs."""
    # The unsafe backend warns on every run: that is its point, but not here.
    logging.getLogger("grader.sandbox.unsafe").setLevel(logging.ERROR)
    measure(handin, "bwrap", 2)  # warm the page cache
    return {name: measure(handin, name, runs) for name in ("unsafe-process", "bwrap")}


def overhead(results: dict[str, tuple[list[float], list[float]]]) -> tuple[float, float]:
    """bwrap / unsafe-process: the ratios of the median wall and of the median CPU time per job."""
    (bwrap_walls, bwrap_cpus), (unsafe_walls, unsafe_cpus) = results["bwrap"], results["unsafe-process"]
    return (
        statistics.median(bwrap_walls) / statistics.median(unsafe_walls),
        statistics.median(bwrap_cpus) / statistics.median(unsafe_cpus),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = compare_backends(correct_handin(Path(scratch)), args.runs)
    print(f"{'backend':<16}{'wall/job (median)':>20}{'wall/job (p90)':>16}{'CPU/job (median)':>18}")
    for name, (walls, cpus) in results.items():
        p90 = sorted(walls)[int(0.9 * (len(walls) - 1))]
        print(
            f"{name:<16}{statistics.median(walls):>18.3f} s{p90:>14.3f} s{statistics.median(cpus):>16.3f} s"
        )
    ratio, cpu_ratio = overhead(results)
    print(
        f"sandbox overhead: bwrap / unsafe-process = {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"({args.runs} jobs each, 3 problems in one sandbox per job)"
    )


if __name__ == "__main__":
    main()
