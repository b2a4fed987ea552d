"""Sandbox overhead: grades the correct handin N times with bwrap in a cgroup (the default), with
bwrap without one, and with unsafe-process (no isolation at all).

    .venv/bin/python bench/grade_overhead.py [-n 20]

Prints each configuration's per-job wall time, the sandbox's CPU time and the worker's own CPU time,
then the ratios: what the sandbox costs, and what its cgroup adds per job.
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

CONFIGS = {
    "unsafe-process": GraderConfig(sandbox="unsafe-process", weak=True),
    "bwrap": GraderConfig(sandbox="bwrap", sandbox_options={"cgroup": False}),
    "bwrap + cgroup": GraderConfig(sandbox="bwrap"),
}


def correct_handin(folder: Path) -> Path:
    """folder/handin.tar: the handout's mytorch with the reference solution (it scores 25/25)."""
    mytorch = build_reference_mytorch(HANDOUT_DIR, folder)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(mytorch, arcname="mytorch")
    handin = folder / "handin.tar"
    handin.write_bytes(buffer.getvalue())
    return handin


def measure(handin: Path, config: GraderConfig, runs: int) -> dict[str, list[float]]:
    """Grades `handin` `runs` times: each job's wall seconds, sandbox CPU seconds and worker CPU seconds."""
    times: dict[str, list[float]] = {"wall": [], "sandbox CPU": [], "worker CPU": []}
    for _ in range(runs):
        started, own = time.perf_counter(), time.process_time()
        report = grade_handin(handin, config)
        times["wall"].append(time.perf_counter() - started)
        times["worker CPU"].append(time.process_time() - own)
        times["sandbox CPU"].append(report.cpu_s)
        assert report.total == report.max, report.log
    return times


def compare(handin: Path, runs: int) -> dict[str, dict[str, list[float]]]:
    """Per-job times of each configuration, after two warm-up jobs."""
    # The unsafe backend warns on every run: that is its point, but not here.
    logging.getLogger("grader.sandbox.unsafe").setLevel(logging.ERROR)
    measure(handin, CONFIGS["bwrap + cgroup"], 2)  # warm the page cache and the expected answers
    return {name: measure(handin, config, runs) for name, config in CONFIGS.items()}


def ratio(results: dict, numerator: str, denominator: str, measure_name: str) -> float:
    return statistics.median(results[numerator][measure_name]) / statistics.median(
        results[denominator][measure_name]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = compare(correct_handin(Path(scratch)), args.runs)
    print(f"{'per job (median)':<18}{'wall':>10}{'sandbox CPU':>14}{'worker CPU':>13}")
    for name, times in results.items():
        wall, sandbox, worker = (
            statistics.median(times[key]) for key in ("wall", "sandbox CPU", "worker CPU")
        )
        print(f"{name:<18}{wall:>8.3f} s{sandbox:>12.3f} s{worker:>11.3f} s")
    full, bare = "bwrap + cgroup", "unsafe-process"
    print(
        f"sandbox: {full} / {bare} = {ratio(results, full, bare, 'wall'):.2f}x wall, "
        f"{ratio(results, full, bare, 'sandbox CPU'):.2f}x CPU"
    )
    print(
        f"the cgroup: {full} / bwrap = {ratio(results, full, 'bwrap', 'wall'):.2f}x wall, "
        f"{ratio(results, full, 'bwrap', 'worker CPU'):.2f}x the worker's CPU "
        f"({args.runs} jobs each, 3 problems in one sandbox per job)"
    )


if __name__ == "__main__":
    main()
