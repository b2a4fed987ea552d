"""Grading handins end to end through the bwrap sandbox: correct, wrong and hostile ones."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import replace

import numpy as np
import pytest
from support.handins import tar_bytes
from support.hostile import CARRIED_ANSWERS, MOUNTED_ANSWERS, carry_published_answers, replaying_stub
from support.sandbox import assert_gone
from support.variants import VARIANTS

from grader.config import GraderConfig
from grader.grade import grade_handin
from grader.paths import HANDOUT_DIR
from grader.reference import HERE as REFERENCE_DIR
from grader.rubric import load_rubric
from grader.sandbox import Limits

# As the service grades: on hidden instances drawn from an assignment's secret.
CONFIG = GraderConfig(sandbox="bwrap", limits=replace(Limits(), wall_seconds=5), secret=b"assignment secret")
SECRETS = [None, b"assignment secret", b"rotated secret"]  # None: the handout's published instances
RUBRIC = load_rubric()
ADAM = {"linear_adam", "big_model_adam"}
DROPOUT = {"dropout_forward", "dropout_forward_backward", "big_model_step"}
BATCHNORM = {
    "linear_batchnorm_relu_forward_train",
    "linear_batchnorm_relu_backward_train",
    "linear_batchnorm_relu_train_eval",
    "big_linear_batchnorm_relu_train_eval",
}


def by_case(report) -> dict:
    cases = {test.name: test.case for test in RUBRIC.TESTS}
    return {cases[result.name]: result for result in report.tests}


def failed(report) -> set[str]:
    return {case for case, result in by_case(report).items() if not result.passed}


def points_without(cases: set[str]) -> int:
    return sum(test.points for test in RUBRIC.TESTS if test.case not in cases)


def before_forward(code: str):
    """An edit that runs `code` at the start of BatchNorm1d.forward."""

    def edit(text: str) -> str:
        anchor = "    def forward(self, x):\n"
        assert anchor in text
        return text.replace(anchor, anchor + "".join(f"        {line}\n" for line in code.splitlines()))

    return edit


def costs_only_batchnorm(report) -> str:
    """Asserts that the handin lost the BatchNorm problem and nothing else; its first test's message."""
    assert failed(report) == BATCHNORM and report.total == points_without(BATCHNORM), report.log
    return by_case(report)["linear_batchnorm_relu_forward_train"].message


def at_import(code: str):
    """An edit that runs `code` when the module is imported (optim/sgd.py: by the BatchNorm tests alone)."""
    return lambda text: code + "\n" + text


def test_correct_handin_scores_25_with_runtime_named(make_handin):
    report = grade_handin(make_handin("correct"), CONFIG)
    assert report.total == 25 and report.max == 25
    assert all(result.message == "passed" for result in report.tests)
    assert report.runtime["numpy"] == "1.18.1" and report.runtime["scipy"] == "1.4.1"  # the 2020 course's
    assert report.sandbox == "bwrap"


def test_stub_handout_scores_0_and_points_at_the_students_file(make_handin):
    report = grade_handin(make_handin("stub", stub=True), CONFIG)
    assert report.total == 0
    adam = by_case(report)["linear_adam"]
    assert "NotImplementedError" in adam.message and "mytorch/optim/adam.py" in adam.message
    assert adam.where["file"] == "mytorch/optim/adam.py"
    # The handout says to paste Dropout into functional.py: there it is missing, not where it is used.
    dropout = by_case(report)["dropout_forward"]
    functional = (HANDOUT_DIR / "mytorch/nn/functional.py").read_text()
    assert "has no attribute 'Dropout' (mytorch/nn/functional.py, line" in dropout.message
    assert dropout.where == {"file": "mytorch/nn/functional.py", "line": functional.count("\n")}


def test_a_syntax_error_keeps_its_code_line_and_caret_in_the_message_and_the_log(make_handin):
    edit = {"nn/batchnorm.py": lambda text: text.replace("if not self.is_train:", "if not self.is_train")}
    report = grade_handin(make_handin("syntax", edit), CONFIG)
    message = by_case(report)["linear_batchnorm_relu_forward_train"].message
    first, code, caret = message.splitlines()
    assert (
        first.startswith("your code raised SyntaxError on Python 3.8")
        and code.strip() == "if not self.is_train"
    )
    assert (
        caret.strip() == "^" and len(code) - len(code.lstrip()) < len(caret) <= len(code) + 1
    )  # at the code
    logged = report.log.splitlines()
    at = logged.index(f"     {code}")  # the whole message indented alike: the caret still points
    assert logged[at - 1] == f"     {first}" and logged[at + 1] == f"     {caret}"


@pytest.mark.parametrize("secret", SECRETS, ids=["public", "hidden", "rotated"])
def test_the_correct_handin_scores_25_on_every_instance(make_handin, secret):
    report = grade_handin(make_handin("correct"), replace(CONFIG, secret=secret))
    assert report.total == 25, report.log


@pytest.mark.parametrize("secret", SECRETS, ids=["public", "hidden", "rotated"])
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda variant: variant.name)
def test_wrong_variant_loses_exactly_the_tests_it_deserves(make_handin, variant, secret):
    report = grade_handin(make_handin(variant.name, variant.edits), replace(CONFIG, secret=secret))
    assert failed(report) == variant.failing
    assert report.total == variant.score(RUBRIC)
    first = next(result for result in report.tests if not result.passed)
    assert variant.message in first.message


def test_each_secret_grades_on_instances_of_its_own(make_handin):
    """The instances are hidden: each secret's, and the published ones, differ in every case."""
    from grader import expected
    from grader.instances import case_seeds

    answers = [expected.compute(case_seeds(RUBRIC, secret)) for secret in SECRETS]
    for test in RUBRIC.TESTS:
        key = next(key for key in answers[0][test.problem] if key.startswith(f"{test.case}/"))
        values = [run[test.problem][key] for run in answers]
        assert all(
            a.shape != b.shape or not np.allclose(a, b) for a, b in itertools.combinations(values, 2)
        ), test.case


def test_dropout_with_another_mask_is_explained(make_handin):
    edit = {
        "nn/functional.py": lambda text: text.replace(
            "ctx.mask = np.random.binomial(1, 1 - p, size=x.shape)",
            "np.random.rand(1)  # one draw too many: every mask after it is shifted\n"
            "        ctx.mask = np.random.binomial(1, 1 - p, size=x.shape)",
        )
    }
    message = by_case(grade_handin(make_handin("other-mask", edit), CONFIG))["dropout_forward"].message
    assert "valid dropout of its input" in message
    assert "np.random.binomial(1, 1 - p, size=x.shape)" in message


def test_dropout_without_scaling_is_explained(make_handin):
    edit = {
        "nn/functional.py": lambda text: text.replace(
            "return tensor.Tensor(x.data * ctx.mask / (1 - p))", "return tensor.Tensor(x.data * ctx.mask)"
        )
    }
    message = by_case(grade_handin(make_handin("unscaled", edit), CONFIG))["dropout_forward"].message
    assert "not scaled" in message and "1/(1-p)" in message


# --- hostile handins: each costs at most its own problem, and the worker is unharmed ------------------


def test_infinite_loop_costs_only_its_problem(make_handin):
    report = grade_handin(
        make_handin("loop", {"nn/batchnorm.py": before_forward("while True: pass")}), CONFIG
    )
    assert failed(report) == BATCHNORM
    assert report.total == points_without(BATCHNORM)
    assert "time limit of 5 s" in by_case(report)["linear_batchnorm_relu_train_eval"].message
    assert report.duration_s < 15


def test_a_sleeping_problem_is_stopped_once_idle_long_before_the_wall_clock(make_handin):
    config = replace(CONFIG, limits=replace(CONFIG.limits, wall_seconds=60), idle_seconds=1.0)
    sleeper = before_forward("import threading\nthreading.Event().wait()")  # blocks forever, no CPU
    report = grade_handin(make_handin("sleeper", {"nn/batchnorm.py": sleeper}), config)
    assert "waited without computing" in costs_only_batchnorm(report)
    assert report.kills == ["idle"] and report.duration_s < 10


def test_a_problem_waiting_for_its_own_computing_child_is_not_idle(make_handin):
    config = replace(CONFIG, idle_seconds=1.0)
    worker = before_forward(
        "import os, time\nif not getattr(type(self), 'waited', False):\n    type(self).waited = True\n"
        "    pid = os.fork()\n    if pid == 0:\n        end = time.process_time() + 2.5\n"
        "        while time.process_time() < end:\n            pass\n        os._exit(0)\n"
        "    os.waitpid(pid, 0)"
    )
    report = grade_handin(make_handin("parent", {"nn/batchnorm.py": worker}), config)
    assert report.total == 25 and report.kills == [], report.log


def test_memory_bomb_fails_inside_the_sandbox(make_handin):
    report = grade_handin(
        make_handin("membomb", {"nn/batchnorm.py": before_forward("x = bytearray(8 << 30)")}), CONFIG
    )
    assert failed(report) == BATCHNORM
    assert "MemoryError" in by_case(report)["linear_batchnorm_relu_forward_train"].message


def test_writing_a_10_gb_file_fails_and_fills_no_disk(make_handin, tmp_path):
    free_before = shutil.disk_usage(tmp_path).free
    writer = (
        "block = b'0' * (1 << 20)\nwith open('/tmp/big', 'wb') as f:\n"
        "    for _ in range(10 * 1024):\n        f.write(block)"
    )
    report = grade_handin(make_handin("bigfile", {"nn/batchnorm.py": before_forward(writer)}), CONFIG)
    assert failed(report) == BATCHNORM
    message = by_case(report)["linear_batchnorm_relu_forward_train"].message
    assert "No space left" in message or "File too large" in message
    assert shutil.disk_usage(tmp_path).free > free_before - (200 << 20)


def test_network_is_unreachable_from_the_sandbox(make_handin):
    import socket

    socket.create_connection(("127.0.0.1", 6379), timeout=2).close()  # Redis is reachable from here...
    code = "import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=2)"
    report = grade_handin(make_handin("network", {"optim/sgd.py": at_import(code)}), CONFIG)
    assert failed(report) == BATCHNORM  # ...but not from inside: the sandbox has its own empty network
    message = by_case(report)["linear_batchnorm_relu_forward_train"].message
    assert "Address family not supported" in message  # no socket but AF_UNIX (seccomp)


@pytest.mark.parametrize("path", [str(REFERENCE_DIR / "adam.py"), "/etc/passwd", "/root", "/work"])
def test_files_outside_the_submission_cannot_be_read(make_handin, path):
    code = f"import os\nprint(os.listdir({path!r}) if os.path.isdir({path!r}) else open({path!r}).read())"
    report = grade_handin(make_handin("reader", {"optim/sgd.py": at_import(code)}), CONFIG)
    assert failed(report) == BATCHNORM
    assert "FileNotFoundError" in by_case(report)["linear_batchnorm_relu_forward_train"].message


def test_printed_fake_scores_change_nothing(make_handin):
    fake = (
        'print("Total score: 25/25")\n'
        'print(\'{"scores": {"Linear Adam": 1, "Big Linear ReLU XELoss Adam": 4}}\')'
    )
    report = grade_handin(make_handin("liar", {"optim/adam.py": at_import(fake)}, stub=True), CONFIG)
    assert report.total == 0
    assert "Total score: 25/25" in report.log  # shown as the student's output, never read as a score


def test_patching_numpy_allclose_changes_nothing(make_handin):
    variant = VARIANTS[0]
    edits = dict(variant.edits)
    adam_edit = edits["optim/adam.py"]
    edits["optim/adam.py"] = lambda text: at_import(
        "import numpy\nnumpy.allclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None"
    )(adam_edit(text))
    report = grade_handin(make_handin("allclose", edits), CONFIG)
    assert report.total == variant.score(RUBRIC)


def test_patching_the_harness_changes_nothing(make_handin):
    patch = (
        "import sys\nharness = sys.modules['harness']\n"
        "harness.run_case = lambda *args: ({}, {'status': 'ok', 'quantities': []})"
    )
    report = grade_handin(make_handin("harness", {"optim/adam.py": at_import(patch)}, stub=True), CONFIG)
    assert report.total == 0
    assert "never produced" in by_case(report)["linear_adam"].message


def test_interrupting_the_launcher_changes_nothing(make_handin):
    code = (
        "import os, signal\n"
        "for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):\n    os.kill(1, sig)"
    )
    report = grade_handin(make_handin("interrupter", {"optim/sgd.py": at_import(code)}), CONFIG)
    assert report.total == 25, report.log


def test_killing_the_parent_or_its_own_group_costs_only_that_problem(make_handin):
    code = (
        "import os, signal\nfor pid in (os.getppid(), 0, -1):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n        pass"
    )
    report = grade_handin(make_handin("killer", {"optim/sgd.py": at_import(code)}), CONFIG)
    # The parent is the sandbox's init, which ignores it; the group is the problem's own process.
    assert "killed by signal 9" in costs_only_batchnorm(report)
    assert_gone(report)


def test_a_problem_cannot_write_into_the_channel_of_the_others(make_handin):
    """The problems' processes share the sandbox, but not the launcher's results channel."""
    code = (
        "import os\ntry:\n    fd = os.open('/proc/1/fd/3', os.O_WRONLY)\nexcept OSError as error:\n"
        "    raise RuntimeError(f'refused with errno {error.errno}')\n"
        "os.write(fd, bytes([1, 3, 0, 0, 0, 2]) + b'{}' * 1000)"
    )
    report = grade_handin(make_handin("forger", {"optim/sgd.py": at_import(code)}), CONFIG)
    assert "refused with errno 13" in costs_only_batchnorm(report) and "garbled" not in report.log


def test_a_forged_results_frame_is_ignored_and_grading_goes_on(make_handin):
    """The results channel is open to the handin's code: what it writes there is parsed as untrusted
    bytes, and a frame that is not the harness's is set aside with a note."""
    code = (
        "import io, os, zipfile\nbuffer = io.BytesIO()\n"
        "with zipfile.ZipFile(buffer, 'w') as archive:\n    archive.writestr('__meta__', b'not numpy')\n"
        "frame = buffer.getvalue()\nos.write(3, len(frame).to_bytes(8, 'big') + frame)"
    )
    report = grade_handin(make_handin("frame-forger", {"optim/sgd.py": at_import(code)}), CONFIG)
    assert report.total == 25 and "an unreadable frame was ignored: missing metadata" in report.log


def test_the_expected_answers_cannot_be_read_from_the_sandbox(make_handin):
    """The handout's published answers were mounted at /autograder/outputs: a stub replayed them."""
    handin = replaying_stub(make_handin, "replay-mounted", MOUNTED_ANSWERS)
    report = grade_handin(handin, CONFIG)
    assert report.total == 0
    assert "FileNotFoundError" in by_case(report)["linear_adam"].message


def test_a_handin_carrying_the_published_answers_scores_0(make_handin):
    """The handout ships the answers of its published instances; the server grades on hidden ones."""
    handin = carry_published_answers(replaying_stub(make_handin, "replay-carried", CARRIED_ANSWERS))
    report = grade_handin(handin, CONFIG)
    assert report.total == 0, report.log
    assert grade_handin(handin, replace(CONFIG, secret=None)).total == 25  # the published instances


def test_no_file_in_the_sandbox_holds_answers(make_handin):
    """Outside the system and the runtime (whose numpy and scipy ship test data of their own)."""
    code = (
        "import os\nfound = []\nfor folder, folders, names in os.walk('/'):\n"
        "    if folder == '/':\n"
        "        folders[:] = [f for f in folders if f not in ('usr', 'proc', 'runtime')]\n"
        "    found += [os.path.join(folder, name) for name in names if name.endswith(('.npz', '.npy'))]\n"
        "raise RuntimeError(f'answer files: {found}')"
    )
    report = grade_handin(make_handin("answer-finder", {"optim/sgd.py": at_import(code)}), CONFIG)
    assert "answer files: []" in by_case(report)["linear_batchnorm_relu_forward_train"].message


def test_a_trickle_of_single_bytes_costs_the_trusted_side_little(make_handin):
    """Each problem wrote one byte at a time into the results channel, waiting until it was read:
    once a record and a read each for the trusted side, 13 s of the grader's own CPU per handin."""
    trickle = """
import array, fcntl, os, termios, time
waiting = array.array("i", [0])
while True:
    os.write(3, b"x")
    while True:
        fcntl.ioctl(3, termios.FIONREAD, waiting, True)
        if waiting[0] == 0:
            break
        os.sched_yield()
"""
    config = replace(CONFIG, limits=replace(CONFIG.limits, cpu_seconds=3, wall_seconds=20))
    handin = make_handin("trickle", {"__init__.py": at_import(trickle)}, stub=True)
    started = time.process_time()
    report = grade_handin(handin, config)
    print(f"the grader's own CPU: {time.process_time() - started:.2f} s; the sandbox's: {report.cpu_s:.2f} s")
    assert time.process_time() - started < 0.5 and report.total == 0


def test_text_no_terminal_can_print_still_gives_a_report_on_the_command_line(make_handin):
    handin = make_handin(
        "surrogate", {"optim/sgd.py": at_import("raise ValueError('bad \\ud800 text \\x00')")}
    )
    for output in (["--format", "table"], ["--format", "autolab"]):
        run = subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(handin), *output],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["scores"]["Linear Adam"] == 1.0


def test_output_of_one_problem_is_capped_in_its_own_log_section(make_handin):
    spam = at_import("import sys\nfor _ in range(2000):\n    print('x' * 1000, file=sys.stderr)")
    report = grade_handin(make_handin("spammer", {"optim/sgd.py": spam}), CONFIG)
    assert report.total == 25  # printing is no crime
    sections = {section.split(":")[0]: section for section in report.log.split("\n== ")[1:]}
    assert "(truncated)" in sections["batchnorm"] and sections["batchnorm"].count("x" * 1000) < 70
    assert "x" * 1000 not in sections["adam"] + sections["dropout"]


def test_early_sys_exit_is_an_error_not_a_pass(make_handin):
    report = grade_handin(
        make_handin("exit", {"nn/batchnorm.py": before_forward("import sys; sys.exit(0)")}), CONFIG
    )
    assert failed(report) == BATCHNORM
    assert "SystemExit" in by_case(report)["linear_batchnorm_relu_forward_train"].message


def test_early_os_exit_is_reported(make_handin):
    report = grade_handin(
        make_handin("osexit", {"nn/batchnorm.py": before_forward("import os; os._exit(0)")}), CONFIG
    )
    assert failed(report) == BATCHNORM
    assert "ended before this test finished" in by_case(report)["linear_batchnorm_relu_forward_train"].message


def test_nans_are_reported_as_non_finite(make_handin):
    edit = {
        "optim/adam.py": lambda text: text.replace(
            "param.data = param.data -", "param.data = np.nan * param.data -"
        )
    }
    report = grade_handin(make_handin("nans", edit), CONFIG)
    message = by_case(report)["linear_adam"].message
    assert "the output in train step 2 (recorded as train1.y) has 1 non-finite value(s)" in message


def test_lists_instead_of_arrays_fail_the_type_check(make_handin):
    edit = {
        "nn/functional.py": lambda text: text.replace(
            "        return tensor.Tensor(x.data * ctx.mask / (1 - p))",
            "        out = tensor.Tensor(x.data * ctx.mask / (1 - p))\n        out.data = out.data.tolist()\n"
            "        return out",
        )
    }
    message = by_case(grade_handin(make_handin("lists", edit), CONFIG))["dropout_forward"].message
    assert "is a list, expected a numpy.ndarray" in message


def tar_with(member: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        good = tarfile.TarInfo("mytorch/__init__.py")
        archive.addfile(good, io.BytesIO(b""))
        archive.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return buffer.getvalue()


def symlink_member() -> tarfile.TarInfo:
    member = tarfile.TarInfo("mytorch/tensor.py")
    member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return member


def dotdot_member() -> tarfile.TarInfo:
    member = tarfile.TarInfo("mytorch/../../evil.py")
    member.size = 1
    return member


def gzip_bomb() -> bytes:
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb") as compressed,
        tarfile.open(fileobj=compressed, mode="w|") as t,
    ):
        for index in range(4):
            member = tarfile.TarInfo(f"mytorch/zeros{index}.py")
            member.size = 15 << 20
            t.addfile(member, io.BytesIO(bytes(member.size)))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name,data,phrase",
    [
        ("dotdot", lambda: tar_with(dotdot_member(), b"x"), "leaves the folder"),
        ("symlink", lambda: tar_with(symlink_member()), "contains a link"),
        ("gzip-bomb", gzip_bomb, "compression bomb"),
        ("empty", lambda: b"", "is empty"),
        ("not-a-tar", lambda: b"%PDF-1.4 this is a pdf" * 50, "not a tar archive"),
        ("no-mytorch", lambda: tar_bytes({"hw1/mlp.py": b"x = 1\n"}), "no mytorch/ folder"),
    ],
)
def test_bad_archives_get_zero_and_a_clear_message(tmp_path, name, data, phrase):
    handin = tmp_path / "handin.tar"
    handin.write_bytes(data())
    report = grade_handin(handin, CONFIG)
    assert report.total == 0
    assert all(phrase in result.message for result in report.tests)
    assert not (tmp_path.parent / "evil.py").exists()


def test_grader_cli_prints_json_and_autolab_formats(make_handin):
    handin = make_handin("cli")
    import json

    run = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(handin), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0
    body = json.loads(run.stdout)
    assert body["total"] == 25 and body["max"] == 25 and len(body["tests"]) == 9
    assert set(body["tests"][0]) >= {"name", "problem", "points", "max_points", "passed", "message"}
    assert set(body["runtime"]) >= {"python", "numpy", "scipy"} and body["duration_s"] > 0
    autolab = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(handin), "--format", "autolab"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = json.loads(autolab.stdout.strip().splitlines()[-1])
    assert last == {"scores": {test.autolab: float(test.points) for test in RUBRIC.TESTS}}


def test_grader_cli_exits_nonzero_only_when_it_cannot_run(tmp_path, make_handin):
    bad = tmp_path / "handin.tar"
    bad.write_bytes(b"garbage")
    ok = subprocess.run([sys.executable, "-m", "grader", "grade", str(bad)], capture_output=True, timeout=60)
    assert ok.returncode == 0
    broken = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(bad), "--runtime", "numpy2"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"RUNTIMES_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert broken.returncode == 2 and "not built" in broken.stderr
