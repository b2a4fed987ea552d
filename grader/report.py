"""The graded report: per-test results, the JSON form, and the Autolab scores line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class TestResult:
    name: str
    autolab: str
    problem: str
    points: float
    max_points: float
    passed: bool
    message: str
    where: dict | None = None  # {"file", "line"} in the student's code, when known


@dataclass
class Report:
    tests: list[TestResult]
    max: float
    runtime: dict[str, str] = field(default_factory=dict)
    log: str = ""
    duration_s: float = 0.0
    # Resource use of the sandboxed runs, for the service's accounting.
    cpu_s: float = 0.0
    sandbox: str = ""
    kills: list[str] = field(default_factory=list)  # why sandboxes were killed: wall-clock, cpu, ...
    memory_peak_bytes: int | None = None  # of the whole sandbox, where its cgroup measured it
    cgroup: str | None = None  # the sandbox's cgroup, removed (with all its processes) at the end
    flags: list[str] = field(default_factory=list)  # for staff, from the source: e.g. "imports torch"

    @property
    def total(self) -> float:
        return sum(test.points for test in self.tests)

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "max": self.max,
            "tests": [asdict(test) for test in self.tests],
            "runtime": self.runtime,
            "log": self.log,
            "duration_s": round(self.duration_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "sandbox": self.sandbox,
            "kills": self.kills,
            "memory_peak_bytes": self.memory_peak_bytes,
            "flags": self.flags,
        }

    def autolab_line(self) -> str:
        """The line Autolab reads last: {"scores": {<autolab name>: points}}."""
        return json.dumps({"scores": {test.autolab: test.points for test in self.tests}})
