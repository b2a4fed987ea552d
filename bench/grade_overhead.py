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
    mytorch = build_reference_mytorch(HANDOUT_DIR, folder)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(mytorch, arcname="mytorch")
    handin = folder / "handin.tar"
    handin.write_bytes(buffer.getvalue())
    return handin


def measure(handin: Path, sandbox: str, runs: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    config = GraderConfig(sandbox=sandbox)
    for _ in range(runs):
        started = time.perf_counter()
        report = grade_handin(handin, config)
        walls.append(time.perf_counter() - started)
        cpus.append(report.cpu_s)
        assert report.total == report.max, report.log
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("grader.sandbox.unsafe").setLevel(
        logging.ERROR
    )  # one warning per run is the point there
    with tempfile.TemporaryDirectory() as scratch:
        handin = correct_handin(Path(scratch))
        measure(handin, "bwrap", 2)  # warm the page cache
        results = {name: measure(handin, name, args.runs) for name in ("unsafe-process", "bwrap")}
    print(f"{'backend':<16}{'wall/job (median)':>20}{'wall/job (p90)':>16}{'CPU/job (median)':>18}")
    for name, (walls, cpus) in results.items():
        p90 = sorted(walls)[int(0.9 * (len(walls) - 1))]
        print(
            f"{name:<16}{statistics.median(walls):>18.3f} s{p90:>14.3f} s{statistics.median(cpus):>16.3f} s"
        )
    ratio = statistics.median(results["bwrap"][0]) / statistics.median(results["unsafe-process"][0])
    cpu_ratio = statistics.median(results["bwrap"][1]) / statistics.median(results["unsafe-process"][1])
    print(
        f"sandbox overhead: bwrap / unsafe-process = {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"({args.runs} jobs each, 3 sandboxed problems per job)"
    )


if __name__ == "__main__":
    main()
