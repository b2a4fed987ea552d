"""Rush hour: every student uploads at once to the real service; latency, throughput, exactly-once.

    .venv/bin/python bench/rush.py [--students 200] [--workers 2] [--api-workers 1] [--worker-nice 10]
                                   [--fault {worker-kill,db-outage,broker-outage}]

Runs the API (uvicorn) and a Celery worker with `--workers` processes on the machine's PostgreSQL
(a fresh database, dropped at the end) and Redis (a queue of its own, deleted at the end), grading
with bubblewrap. First it grades the correct handin a few times in this process to measure the CPU
cost of one job and the sandbox overhead (bench/grade_overhead.py). Then N students upload at
once a mix of correct, partially wrong (tests/support/variants.py), broken (refused with 400) and hostile
(never-ending) handins, and uploads keep arriving at a steady rate while the workers drain the
queue. It prints upload latency, throughput against the machine's limit and where the CPU went,
waits for the similarity index to catch up, and checks in the database that every accepted
upload was graded exactly once with the score it deserves. See bench/README.md.

With --fault, a fault strikes --fault-at seconds into the rush: the grading worker is killed with
SIGKILL and another started (worker-kill), or PostgreSQL (behind a proxy that cuts every connection)
or Redis (a server of the bench's own, which keeps nothing) is away for --outage seconds. Uploads
refused meanwhile (503) are retried with their Idempotency-Key, as submit.py does. It prints the time
from the recovery to an empty queue, beside lost, double and wrong.

Exits 1 if an upload was lost, counted twice, scored wrongly or answered unexpectedly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tests"))  # the tests' service launcher, handin builders and variants

from grade_overhead import CONFIGS, compare, correct_handin, measure, ratio  # noqa: E402
from support.database import TEST_REDIS_URL, create_database, drop_database  # noqa: E402
from support.faults import RedisServer, TcpProxy  # noqa: E402
from support.handins import build_handin, tar_bytes  # noqa: E402
from support.service import Service, free_port, run_cli, running_service  # noqa: E402
from support.variants import VARIANTS, Variant, replace  # noqa: E402

from core.config import Settings  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402

SLUG = "hw1-bonus"
RUBRIC = load_rubric()
# Hostile handins: each costs its sandboxes one wall-clock limit.
ADAM_NEVER_RETURNS = Variant(
    "adam_step_never_returns",
    {
        "optim/adam.py": replace(
            "b1, b2 = self.betas", "while True:\n            pass\n        b1, b2 = self.betas"
        )
    },
    frozenset({"linear_adam", "big_model_adam", "big_model_step"}),  # every test that steps Adam
    "time limit",
)
SLEEPS_AT_IMPORT = Variant(
    "sleeps_at_import",
    {"__init__.py": lambda text: "import time\ntime.sleep(3600)\n" + text},
    frozenset(test.case for test in RUBRIC.TESTS),
    "time limit",
)


@dataclass(frozen=True)
class Kind:
    """One sort of handin in the mix and what the service must make of it."""

    name: str
    category: str  # correct, partial, hostile or broken
    build: Callable[[str, Path], bytes]  # (username, scratch folder) -> bytes unique to the student
    status: int = 202  # the answer the upload must get
    total: float | None = None  # the score it must get, if accepted


@dataclass
class Upload:
    """One upload of one student, and how the service answered it."""

    username: str
    kind: Kind
    phase: str  # warm-up, rush or steady
    data: bytes = b""
    status: int = 0  # the HTTP answer; 0 if none came
    submission_id: int | None = None
    latency: float = 0.0
    error: str = ""
    tries: int = 0


@dataclass
class Figures:
    """What the run measured, for the summary."""

    cores: int
    job_cpu: float = 0.0  # CPU seconds of one correct job, grader and sandboxes together
    job_sandbox_cpu: float = 0.0  # of which inside the sandboxes (the report's cpu_s)
    job_wall: float = 0.0
    overhead_wall: float = 0.0
    overhead_cpu: float = 0.0
    rush_started: float = 0.0  # time.time() of the first upload
    rush_answered: float = 0.0
    steady_backlog: int = 0  # submissions queued or running when the steady phase ended
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds used in the run, by group or command
    load_ended: float = 0.0  # time.time() when every submission was found graded
    drained: bool = False  # whether that happened within --drain-timeout
    similarity_done: float | None = None  # time.time() when the similarity index had caught up, if it did
    similarity_cpu: float = 0.0  # CPU seconds the worker used after grading ended (similarity updates)
    machine_busy: float = 0.0  # CPU seconds all processes of the machine used from the rush to the end
    fault_at: float | None = None  # time.time() when the fault struck
    recovered_at: float | None = None  # time.time() when it ended (the service could recover)


def edited(variant_edits: dict[str, Callable[[str], str]], reference: Path) -> Callable[[str, Path], bytes]:
    """A builder of the reference with `variant_edits`, plus a comment naming the student (unique bytes)."""

    def build(username: str, folder: Path) -> bytes:
        edits = dict(variant_edits)
        first = edits.get("__init__.py", lambda text: text)
        edits["__init__.py"] = lambda text: first(text) + f"\n# handin of {username}\n"
        return build_handin(reference, folder, edits).read_bytes()

    return build


def catalog(reference: Path) -> dict[str, list[Kind]]:
    """The kinds of handin of each category."""

    def scored(variant: Variant, category: str) -> Kind:
        return Kind(variant.name, category, edited(variant.edits, reference), total=variant.score(RUBRIC))

    return {
        "correct": [Kind("correct", "correct", edited({}, reference), total=RUBRIC.MAX_SCORE)],
        "partial": [scored(variant, "partial") for variant in VARIANTS],
        "hostile": [scored(ADAM_NEVER_RETURNS, "hostile"), scored(SLEEPS_AT_IMPORT, "hostile")],
        "broken": [
            Kind("not_a_tar", "broken", lambda user, _: f"a PDF of {user}'s notes\n".encode() * 50, 400),
            Kind(
                "no_mytorch",
                "broken",
                lambda user, _: tar_bytes({"handin/notes.txt": f"{user}: forgot mytorch\n".encode()}),
                400,
            ),
        ],
    }


def plan(
    count: int, kinds: dict[str, list[Kind]], args: argparse.Namespace, rng: random.Random
) -> list[Kind]:
    """`count` kinds in the proportions of the command line, shuffled."""
    chosen: list[Kind] = []
    for category in ("hostile", "broken", "partial"):
        number = round(count * getattr(args, category))
        chosen += [kinds[category][index % len(kinds[category])] for index in range(number)]
    chosen += kinds["correct"] * (count - len(chosen))
    rng.shuffle(chosen)
    return chosen


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def processes() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, process group, CPU seconds of it and of the children it reaped), for all."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        table[int(entry.name)] = (comm, int(fields[2]), sum(int(v) for v in fields[11:15]) / ticks)
    return table


def cpu_used(before: dict, after: dict, groups: dict[str, int]) -> Counter[str]:
    """CPU seconds used between two snapshots by each of `groups` (name -> process group), by this
    process, and by every other command (processes that ended unreaped in between are missed)."""
    names = {pgid: name for name, pgid in groups.items()}
    used: Counter[str] = Counter()
    for pid, (comm, pgid, cpu) in after.items():
        start = before.get(pid)
        label = "bench client" if pid == os.getpid() else names.get(pgid, comm)
        used[label] += cpu - (start[2] if start and start[0] == comm else 0.0)
    return used


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (all cores) since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def machine_load(seconds: float = 2.0) -> float:
    """The share of the machine's cores busy over the next `seconds` (others' load skews the figures)."""
    before, started = machine_cpu(), time.monotonic()
    time.sleep(seconds)
    return (machine_cpu() - before) / ((time.monotonic() - started) * len(os.sched_getaffinity(0)))


def own_cpu() -> float:
    """CPU seconds of this process and of the children it reaped (the sandboxes of the calibration)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def calibrate(handin: Path, runs: int, figures: Figures) -> None:
    """The CPU cost of one correct job in this process, and the sandbox overhead, on a quiet machine."""
    results = compare(handin, runs)
    figures.overhead_wall = ratio(results, "bwrap + cgroup", "unsafe-process", "wall")
    figures.overhead_cpu = ratio(results, "bwrap + cgroup", "unsafe-process", "sandbox CPU")
    cpus, walls, sandbox_cpus = [], [], []
    for _ in range(runs):  # one job at a time: medians, as another tenant of the machine may spike one
        before = own_cpu()
        times = measure(handin, CONFIGS["bwrap + cgroup"], 1)
        cpus.append(own_cpu() - before)
        walls.append(times["wall"][0])
        sandbox_cpus.append(times["sandbox CPU"][0])
    figures.job_cpu = statistics.median(cpus)
    figures.job_sandbox_cpu = statistics.median(sandbox_cpus)
    figures.job_wall = statistics.median(walls)


def create_students(usernames: list[str]) -> dict[str, str]:
    """Students with an API token each, through the service's own user functions; username -> token."""
    from core.db import session_factory
    from core.services import users

    tokens = {}
    with session_factory()() as db:
        for username in usernames:
            user, _ = users.upsert_user(db, username)
            tokens[username] = users.issue_token(db, user, "rush")
        db.commit()
    return tokens


def status_counts() -> Counter[str]:
    """How many submissions are queued, running, graded and in error."""
    from sqlalchemy import func, select

    from core.db import session_factory
    from core.models import Submission

    with session_factory()() as db:
        rows = db.execute(select(Submission.status, func.count()).group_by(Submission.status)).all()
    return Counter({str(status.value): count for status, count in rows})


def similarity_behind() -> int:
    """Students whose counted submission the similarity index does not have yet."""
    from core.db import session_factory
    from core.services import assignments
    from core.similarity import index as similarity

    with session_factory()() as db:
        return len(similarity.stale_students(db, assignments.get(db, SLUG)))


def wait_for_similarity(started: float, timeout: float, interval: float) -> float | None:
    """Waits until the worker's similarity updates (queued after each grading) are done; time.time() then."""
    shown = time.monotonic()
    deadline = shown + timeout
    while time.monotonic() < deadline:
        behind = similarity_behind()
        if behind == 0:
            return time.time()
        if time.monotonic() - shown >= interval:
            print(
                f"  [{time.time() - started:6.1f} s] similarity index: {behind} students behind", flush=True
            )
            shown = time.monotonic()
        time.sleep(0.5)
    return None


async def send(client: httpx.AsyncClient, token: str, upload: Upload, retry_for: float = 120.0) -> None:
    """Uploads as the student would (submit.py): bearer token, multipart field `file`, and while the
    server is unavailable (503, or no answer) the same upload again with its Idempotency-Key."""
    started = time.perf_counter()
    key = f"{upload.username}-{id(upload)}"
    while True:
        upload.tries += 1
        try:
            response = await client.post(
                f"/api/v1/assignments/{SLUG}/submissions",
                files={"file": ("handin.tar", upload.data, "application/x-tar")},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            )
        except httpx.HTTPError as error:
            upload.error = f"{type(error).__name__}: {error}"
            response = None
        if (response is None or response.status_code == 503) and time.perf_counter() - started < retry_for:
            await asyncio.sleep(min(2.0 * upload.tries, 5.0))
            continue
        break
    if response is not None:
        upload.error = ""
        upload.status = response.status_code
        if response.status_code == 202:
            upload.submission_id = response.json()["id"]
        elif response.status_code != upload.kind.status:
            upload.error = response.text[:200]
    upload.latency = time.perf_counter() - started


async def show_progress(stop: asyncio.Event, started: float, uploads: list[Upload], interval: float) -> None:
    """A line every `interval` seconds: uploads answered and accepted, and the queue."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        counts = await asyncio.to_thread(status_counts)
        answered = [upload for upload in uploads if upload.status or upload.error]
        accepted = sum(upload.submission_id is not None for upload in answered)
        print(
            f"  [{time.monotonic() - started:6.1f} s] uploads answered {len(answered)}/{len(uploads)}, "
            f"accepted {accepted} | graded {counts['graded']}, error {counts['error']}, "
            f"running {counts['running']}, queued {counts['queued']}",
            flush=True,
        )


async def run_load(
    url: str,
    tokens: dict[str, str],
    rush: list[Upload],
    steady: list[Upload],
    args: argparse.Namespace,
    figures: Figures,
    inject: Callable[[], Callable[[], None]] | None = None,
) -> bool:
    """The rush, then the steady uploads, then waiting for the queue to drain; False on a timeout."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    uploads = rush + steady
    stop = asyncio.Event()
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        progress = asyncio.create_task(show_progress(stop, started, uploads, args.progress))
        figures.rush_started = time.time()
        fault = asyncio.create_task(strike(inject, args, figures)) if inject else None
        await asyncio.gather(*(send(client, tokens[upload.username], upload) for upload in rush))
        figures.rush_answered = time.time()
        print(f"  rush answered in {figures.rush_answered - figures.rush_started:.2f} s", flush=True)

        pending = []
        steady_started = time.monotonic()
        for index, upload in enumerate(steady):
            await asyncio.sleep(max(0.0, steady_started + index / args.steady_rate - time.monotonic()))
            pending.append(asyncio.create_task(send(client, tokens[upload.username], upload)))
        await asyncio.gather(*pending)
        counts = await asyncio.to_thread(status_counts)
        figures.steady_backlog = counts["queued"] + counts["running"]

        accepted = sum(upload.submission_id is not None for upload in uploads)
        deadline = time.monotonic() + args.drain_timeout
        drained = False
        while time.monotonic() < deadline:
            counts = await asyncio.to_thread(status_counts)
            if counts["queued"] + counts["running"] == 0 and counts["graded"] + counts["error"] >= accepted:
                drained = True
                break
            await asyncio.sleep(0.5)
        figures.load_ended = time.time()
        stop.set()
        await progress
        if fault is not None:
            await fault
    return drained


async def strike(
    inject: Callable[[], Callable[[], None]], args: argparse.Namespace, figures: Figures
) -> None:
    """The fault, `--fault-at` seconds into the rush; `inject()` starts it and returns how it ends."""
    await asyncio.sleep(args.fault_at)
    figures.fault_at = time.time()
    print(f"  fault: {args.fault}", flush=True)
    end = await asyncio.to_thread(inject)
    if args.fault != "worker-kill":
        await asyncio.sleep(args.outage)
    await asyncio.to_thread(end)
    figures.recovered_at = time.time()
    print(f"  fault over after {figures.recovered_at - figures.fault_at:.1f} s", flush=True)


@dataclass
class Verdict:
    """The correctness check against the database."""

    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    retried: int = 0  # submissions graded more than once (a redelivery; harmless if stored once)
    retried_graded: list[float] = field(default_factory=list)  # time.time() when those were graded
    last_graded: float = 0.0  # time.time() of the last graded submission of the rush and steady phases
    sandbox_cpu: list[float] = field(default_factory=list)  # the report's cpu_s of those submissions
    correct_sandbox_cpu: list[float] = field(default_factory=list)  # the same, of the correct handins
    kills: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.wrong)


def verify(uploads: list[Upload]) -> Verdict:
    """Every accepted upload has exactly one row, finished, with the right score; versions 1..k."""
    from sqlalchemy import func, select

    from core.config import get_settings
    from core.db import session_factory
    from core.models import Status, Submission, TestScore, User

    verdict = Verdict()
    with session_factory()() as db:
        rows = {row.id: row for row in db.scalars(select(Submission))}
        usernames = dict(db.execute(select(User.id, User.username)).all())
        score_rows = {
            submission_id: (count, distinct)
            for submission_id, count, distinct in db.execute(
                select(
                    TestScore.submission_id, func.count(), func.count(func.distinct(TestScore.name))
                ).group_by(TestScore.submission_id)
            )
        }
    accepted = [upload for upload in uploads if upload.submission_id is not None]
    ids = Counter(upload.submission_id for upload in accepted)
    verdict.doubled += [f"submission {i} was answered to {n} uploads" for i, n in ids.items() if n > 1]
    verdict.doubled += [f"submission {i} belongs to no accepted upload" for i in rows.keys() - ids.keys()]
    for upload in uploads:
        if upload.status != upload.kind.status:
            verdict.wrong.append(
                f"{upload.username} ({upload.kind.name}): answered {upload.status or upload.error}, "
                f"expected {upload.kind.status} {upload.error}"
            )
    finished = {Status.graded, Status.error}
    for upload in accepted:
        row = rows.get(upload.submission_id)
        where = f"{upload.username} ({upload.kind.name}), submission {upload.submission_id}"
        if row is None or row.status not in finished:
            verdict.lost.append(f"{where}: {'no row' if row is None else row.status}")
            continue
        if not 1 <= row.attempts <= 1 + get_settings().grading_retries:
            verdict.doubled.append(f"{where}: {row.attempts} attempts")
        verdict.retried += row.attempts > 1
        if row.attempts > 1 and row.graded_at is not None:
            verdict.retried_graded.append(row.graded_at.timestamp())
        count, distinct = score_rows.get(row.id, (0, 0))
        if row.status == Status.graded and (count != len(RUBRIC.TESTS) or distinct != count):
            verdict.doubled.append(f"{where}: {count} test score rows ({distinct} distinct)")
        if row.status == Status.error or row.total != upload.kind.total:
            verdict.wrong.append(f"{where}: {row.status} {row.total}, expected {upload.kind.total}")
        if upload.phase != "warm-up":
            verdict.last_graded = max(verdict.last_graded, row.graded_at.timestamp())
            verdict.sandbox_cpu.append(row.cpu_s or 0.0)
            if upload.kind.category == "correct":
                verdict.correct_sandbox_cpu.append(row.cpu_s or 0.0)
            verdict.kills.update((row.sandbox_kills or "").split(",") if row.sandbox_kills else [])
    versions: dict[int, list[int]] = defaultdict(list)
    for row in rows.values():
        versions[row.user_id].append(row.version)
    for user_id, numbers in versions.items():
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            verdict.doubled.append(f"{usernames[user_id]}: versions {sorted(numbers)}")
    return verdict


def clean_redis(url: str, names: list[str]) -> int:
    """Deletes the keys of this run's queue and worker (only those); returns how many."""
    client = redis.Redis.from_url(url)
    deleted = 0
    for key in list(client.scan_iter(count=1000)):
        text = key.decode(errors="replace")
        if any(name in text for name in names):
            deleted += client.delete(key)
        elif text.startswith("_kombu.binding.") and client.type(key) == b"set":
            ours = [m for m in client.smembers(key) if any(n in m.decode(errors="replace") for n in names)]
            if ours:
                client.srem(key, *ours)
    client.close()
    return deleted


def row(label: str, text: str) -> None:
    """One line of the summary."""
    print(f"{label:<36}{text}")


def latency(uploads: list[Upload]) -> str:
    """p50, p99 and max of the uploads' latency (those that got an answer)."""
    latencies = [upload.latency * 1000 for upload in uploads if upload.status]
    if not latencies:
        return "none"
    return (
        f"p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies):.0f} ms ({len(latencies)} uploads)"
    )


def summary(uploads: list[Upload], figures: Figures, verdict: Verdict, args: argparse.Namespace) -> None:
    """Prints the figures and the correctness check."""
    rush = [upload for upload in uploads if upload.phase == "rush"]
    steady = [upload for upload in uploads if upload.phase == "steady"]
    accepted = sum(upload.submission_id is not None for upload in rush + steady)
    refused = Counter(upload.status for upload in rush + steady if upload.submission_id is None)
    drain = verdict.last_graded - figures.rush_started
    graded = len(verdict.sandbox_cpu)
    throughput = graded / drain if drain > 0 else 0.0
    limit = figures.cores / figures.job_cpu
    outside = figures.job_cpu - figures.job_sandbox_cpu  # the grader's own CPU around the sandboxes
    mix_cpu = statistics.fmean(verdict.sandbox_cpu) + outside if verdict.sandbox_cpu else figures.job_cpu
    mix_limit = figures.cores / mix_cpu
    mix = ", ".join(
        f"{count} {category}" for category, count in Counter(u.kind.category for u in rush).items()
    )

    print("\n== results")
    row("uploads", f"{len(rush)} at once ({mix}), then {len(steady)} at {args.steady_rate:g}/s")
    answers = ", ".join(f"{count} x {status or 'no answer'}" for status, count in sorted(refused.items()))
    row("answers", f"{accepted} accepted, {sum(refused.values())} refused ({answers or 'none'})")
    row("upload latency, all at once", latency(rush))
    row("  all answered after", f"{figures.rush_answered - figures.rush_started:.2f} s")
    row(f"upload latency, {args.steady_rate:g}/s steady", latency(steady))
    busy = "busy throughout" if figures.steady_backlog else "IDLE before the end: add uploads or students"
    row("  workers", f"{figures.steady_backlog} handins queued or running at its end: {busy}")
    row("queue drain", f"{drain:.1f} s from the first upload to the last graded, {graded} handins")
    if not figures.drained:
        row(
            "  NOT DRAINED", f"submissions still queued or running {args.drain_timeout:g} s after the uploads"
        )
    row("throughput", f"{throughput:.2f} handins/s")
    row(
        "machine limit",
        f"{limit:.2f} handins/s = {figures.cores} cores / {figures.job_cpu:.3f} CPU-s of one correct job "
        f"({figures.job_sandbox_cpu:.3f} s of it in the sandboxes, {figures.job_wall:.3f} s wall)",
    )
    row("throughput / limit", f"{throughput / limit:.0%} (target: at least 80%)")
    row(
        "limit for this mix",
        f"{mix_limit:.2f} handins/s = {figures.cores} cores / {mix_cpu:.3f} CPU-s per job on average "
        "(a never-ending handin burns CPU until the wall limit)",
    )
    row("throughput / limit for this mix", f"{throughput / mix_limit:.0%}")
    if verdict.correct_sandbox_cpu:
        row(
            "a correct job's sandboxes",
            f"{statistics.median(verdict.correct_sandbox_cpu):.3f} CPU-s (median) during the rush, "
            f"{figures.job_sandbox_cpu:.3f} s alone (calibration)",
        )
    if drain > 0:
        elapsed = figures.load_ended - figures.rush_started
        ours = [(name, figures.cpu[name]) for name in ("workers", "API", "bench client")]
        others = [item for item in figures.cpu.most_common() if item[0] not in dict(ours) and item[1] >= 0.5]
        shown = ours + others[:4]
        rest = figures.machine_busy - sum(seconds for _, seconds in shown)
        row(
            "CPU from the rush to the end",
            f"{figures.machine_busy / (figures.cores * elapsed):.0%} of {figures.cores} cores busy: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in shown)
            + f", unattributed {max(rest, 0.0):.1f} s",
        )
        per_job = figures.cpu.get("workers", 0.0) / graded if graded else 0.0
        row(
            "worker CPU per graded handin",
            f"{per_job:.3f} s (grading with Celery and the database, similarity)",
        )
    if figures.similarity_done is None:
        row("similarity index", f"NOT current {args.drain_timeout:g} s after grading ended")
    else:
        row(
            "similarity index current",
            f"{figures.similarity_done - figures.rush_started:.1f} s after the first upload; after grading "
            f"the worker spent {figures.similarity_cpu:.1f} CPU-s more on it "
            f"({figures.similarity_cpu / max(graded, 1):.3f} s per handin)",
        )
    row("sandbox kills", ", ".join(f"{count} {reason}" for reason, count in verdict.kills.items()) or "none")
    row(
        "sandbox overhead",
        f"bwrap / unsafe-process = {figures.overhead_wall:.2f}x wall, {figures.overhead_cpu:.2f}x CPU",
    )
    if figures.fault_at is not None and figures.recovered_at is not None:
        row(
            f"fault: {args.fault}",
            f"at {figures.fault_at - figures.rush_started:.1f} s, over after "
            f"{figures.recovered_at - figures.fault_at:.1f} s; the queue was empty "
            f"{verdict.last_graded - figures.recovered_at:.1f} s after the recovery",
        )
        retried = sum(upload.tries > 1 for upload in uploads)
        row("  uploads retried (503 or no answer)", f"{retried}, each stored once")
        if verdict.retried_graded:
            last = max(verdict.retried_graded) - figures.fault_at
            row("  jobs graded again", f"{len(verdict.retried_graded)}, the last {last:.1f} s after it")
    print("\n== correctness (database)")
    row("lost", str(len(verdict.lost)))
    row("double-counted", str(len(verdict.doubled)))
    row("wrong answer or score", str(len(verdict.wrong)))
    row("graded twice (redelivered)", str(verdict.retried))
    for problem in (verdict.lost + verdict.doubled + verdict.wrong)[:20]:
        print(f"  {problem}")


def build_uploads(scratch: Path, args: argparse.Namespace) -> list[Upload]:
    """Warm-up uploads (one per job slot), the rush (every student, some twice) and the steady uploads."""
    rng = random.Random(args.seed)
    kinds = catalog(scratch / "mytorch")
    students = [f"s{index:04d}" for index in range(args.students)]
    doubles = rng.sample(students, round(args.students * args.double))
    steady = [rng.choice(students) for _ in range(round(args.steady_rate * args.steady_seconds))]
    uploads = [Upload(f"warm{index}", kinds["correct"][0], "warm-up") for index in range(args.workers)]
    for phase, usernames in (("rush", students + doubles), ("steady", steady)):
        kinds_of = plan(len(usernames), kinds, args, rng)
        uploads += [Upload(user, kind, phase) for user, kind in zip(usernames, kinds_of, strict=True)]
    for index, upload in enumerate(uploads):
        upload.data = upload.kind.build(upload.username, scratch / f"handin-{index}")
    return uploads


def warm_up(service: Service, tokens: dict[str, str], uploads: list[Upload]) -> None:
    """One correct handin per job slot, graded before the clock starts (the worker is ready, pools open)."""
    for upload in uploads:
        with service.client(tokens[upload.username]) as client:
            started = time.perf_counter()
            response = client.post(
                f"/api/v1/assignments/{SLUG}/submissions", files={"file": ("handin.tar", upload.data)}
            )
            upload.latency, upload.status = time.perf_counter() - started, response.status_code
            upload.submission_id = response.json()["id"] if response.status_code == 202 else None
    for upload in uploads:
        if upload.submission_id is not None:
            with service.client(tokens[upload.username]) as client:
                service.wait_graded(client, upload.submission_id, timeout=60)


@contextlib.contextmanager
def faulty(args: argparse.Namespace, env: dict[str, str]):
    """The service's environment for `--fault` (PostgreSQL behind a proxy, or a Redis of the bench's
    own), and a function that starts the fault on a running service and returns how it ends."""
    proxy = redis_server = None
    if args.fault == "db-outage":
        proxy = TcpProxy(free_port(), 5432)
        proxy.restore()
        env = {
            **env,
            "DATABASE_URL": env["DATABASE_URL"].replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"),
        }
    elif args.fault == "broker-outage":
        redis_server = RedisServer(free_port())
        redis_server.start()
        env = {**env, "BROKER_URL": redis_server.url}

    def inject(service: Service, worker: str) -> Callable[[], None]:
        if proxy is not None:
            proxy.cut()
            return proxy.restore
        if redis_server is not None:
            redis_server.stop()
            return redis_server.start
        service.stop(worker, signal.SIGKILL)  # mid-job, without a goodbye
        return lambda: service.start_worker(f"{worker}-b", concurrency=args.workers)

    try:
        yield env, (inject if args.fault != "none" else None)
    finally:
        if proxy is not None:
            proxy.cut()
        if redis_server is not None:
            redis_server.stop()


def run_service(
    scratch: Path, env: dict[str, str], uploads: list[Upload], args: argparse.Namespace, figures: Figures
) -> Verdict:
    """Starts the service, makes the course, runs the load and checks the database."""
    worker = f"rush-{os.getpid()}"
    with (
        faulty(args, env) as (env, inject),
        running_service(env, scratch / "logs", worker=False, api_workers=args.api_workers) as service,
    ):
        due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        run_cli(env, "assignment", SLUG, "--title", "HW1 Bonus rush", "--due", due, "--max-submissions", "20")
        tokens = create_students(sorted({upload.username for upload in uploads}))
        service.start_worker(worker, concurrency=args.workers)
        service.start_worker(f"sweeper-{os.getpid()}", sweeper=True)
        warm_up(service, tokens, [upload for upload in uploads if upload.phase == "warm-up"])
        print(f"service up: {service.url}, course of {len(tokens)} students, workers warm", flush=True)

        groups = {"workers": service.processes[worker].pid, "API": service.processes["api"].pid}
        machine_before, before = machine_cpu(), processes()
        rush = [upload for upload in uploads if upload.phase == "rush"]
        steady = [upload for upload in uploads if upload.phase == "steady"]
        strike_now = (lambda: inject(service, worker)) if inject else None
        figures.drained = asyncio.run(run_load(service.url, tokens, rush, steady, args, figures, strike_now))
        figures.machine_busy = machine_cpu() - machine_before
        figures.cpu = cpu_used(before, processes(), groups)
        figures.similarity_done = wait_for_similarity(figures.rush_started, args.drain_timeout, args.progress)
        figures.similarity_cpu = cpu_used(before, processes(), groups)["workers"] - figures.cpu["workers"]
    return verify(uploads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200, help="students uploading at once")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (job slots)")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=Settings.model_fields["worker_nice"].default,
        help="WORKER_NICE of the grading worker",
    )
    parser.add_argument("--wall-seconds", type=float, default=5.0, help="SANDBOX_WALL_SECONDS per problem")
    parser.add_argument("--partial", type=float, default=0.25, help="share of wrong variants")
    parser.add_argument("--broken", type=float, default=0.10, help="share refused with 400")
    parser.add_argument("--hostile", type=float, default=0.02, help="share that never ends")
    parser.add_argument(
        "--double", type=float, default=0.05, help="share of students uploading twice at once"
    )
    parser.add_argument("--steady-rate", type=float, default=5.0, help="uploads per second after the rush")
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    parser.add_argument("--calibration-runs", type=int, default=20)
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--progress", type=float, default=3.0, help="seconds between progress lines")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--redis-url", default=TEST_REDIS_URL)
    parser.add_argument("--keep-logs", action="store_true", help="keep the logs (kept on failure)")
    parser.add_argument(
        "--fault", choices=("none", "worker-kill", "db-outage", "broker-outage"), default="none"
    )
    parser.add_argument("--fault-at", type=float, default=5.0, help="seconds into the rush")
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the database or broker is away")
    args = parser.parse_args()

    began = time.monotonic()
    figures = Figures(cores=len(os.sched_getaffinity(0)))
    database, queue = f"hw1grader_bench_{os.getpid()}", f"bench-rush-{os.getpid()}"
    sweeper_queue = f"bench-sweeper-{os.getpid()}"
    scratch = Path(tempfile.mkdtemp(prefix="rush-"))
    env = {
        **os.environ,
        "DATABASE_URL": create_database(database),
        "BROKER_URL": args.redis_url,
        "GRADING_QUEUE": queue,
        "SWEEPER_QUEUE": sweeper_queue,
        "SECRET_KEY": "bench-secret-key",
        "SANDBOX": "bwrap",
        "SANDBOX_WALL_SECONDS": str(args.wall_seconds),
        "WORKER_NICE": str(args.worker_nice),
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)  # the service's own functions, used in this process, read their settings here
    verdict = None
    try:
        print(
            f"rush: {args.students} students, {args.workers} worker processes (nice {args.worker_nice}), "
            f"{args.api_workers} API process(es), {figures.cores} cores",
            flush=True,
        )
        busy = machine_load()
        print(f"machine busy before the start: {busy:.0%}", flush=True)
        if busy > 0.1:
            print("  warning: something else is using the CPU; the figures below will be low", flush=True)
        calibrate(correct_handin(scratch), args.calibration_runs, figures)
        print(
            f"one correct job: {figures.job_cpu:.3f} CPU-s, {figures.job_wall:.3f} s wall; sandbox overhead "
            f"{figures.overhead_wall:.2f}x wall, {figures.overhead_cpu:.2f}x CPU",
            flush=True,
        )
        uploads = build_uploads(scratch, args)
        print(f"built {len(uploads)} handins", flush=True)
        verdict = run_service(scratch, env, uploads, args, figures)
        summary(uploads, figures, verdict, args)
    finally:
        from core.db import get_engine

        get_engine().dispose()  # this process's connections, before the database goes
        drop_database(database)
        clean_redis(args.redis_url, [queue, sweeper_queue, f"rush-{os.getpid()}", f"sweeper-{os.getpid()}@"])
        if verdict is not None and verdict.ok and not args.keep_logs:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"logs kept in {scratch / 'logs'}")
    print(f"\nbench took {time.monotonic() - began:.0f} s")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
