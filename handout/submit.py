#!/usr/bin/env python3
"""Submit handin.tar to the course grader and wait for your score (standard library only).

    python3 submit.py handin.tar --server https://grader.example.edu --token hw1_...

The token can also come from the HW1_TOKEN environment variable or from a config
file (~/.config/hw1grader.ini or ./hw1grader.ini):

    [grader]
    server = https://grader.example.edu
    token = hw1_...

While the server is temporarily unavailable (it answers 503, or cannot be reached for a moment), the
upload is tried again with backoff for up to --retry-for seconds; every try carries the same
Idempotency-Key, so the server stores the handin once however many tries reach it.

Exit codes: 0 all tests passed; 1 graded, some tests failed; 2 bad usage or
missing file; 3 the server refused the file; 4 wrong or missing token;
5 server unreachable; 6 timed out waiting; 7 the grader reported an error.
"""

import argparse
import configparser
import http.client
import itertools
import json
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

CONFIG_FILES = (Path.home() / ".config" / "hw1grader.ini", Path("hw1grader.ini"))
CHUNK = 64 * 1024
UNAVAILABLE = (502, 503, 504)  # the server (or its proxy) says: not now, try again
BACKOFF = (1, 2, 4, 8, 15)  # seconds between tries, then every 15 s


class Failure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Unavailable(Failure):
    """The server cannot answer now (503), or could not be reached: worth trying again."""

    def __init__(self, code, message, reached=True):
        super().__init__(code, message)
        self.reached = reached  # False: no answer at all (a restart, or a wrong --server)


UNREACHED_TRIES = 4  # an address that never answers is given up after 1 + 2 + 4 s: it may be a typo


def retrying(call, retry_for):
    """call() until it does not raise Unavailable, for up to `retry_for` seconds, saying so."""
    give_up = time.monotonic() + retry_for
    for attempt in itertools.count():
        try:
            return call()
        except Unavailable as unavailable:
            pause = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            if time.monotonic() + pause > give_up or (
                not unavailable.reached and attempt + 1 >= UNREACHED_TRIES
            ):
                raise
            print(f"\nthe server is temporarily unavailable, retrying in {pause} s ({unavailable})")
            time.sleep(pause)


def load_config():
    parser = configparser.ConfigParser()
    parser.read([str(path) for path in CONFIG_FILES])
    return dict(parser["grader"]) if parser.has_section("grader") else {}


def connect(server, timeout=30):
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Failure(2, f"--server must look like https://host[:port], not {server!r}")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return kind(parts.hostname, parts.port, timeout=timeout), parts.path.rstrip("/")


def explain(status, body):
    try:
        detail = json.loads(body).get("detail", body)
    except (ValueError, AttributeError):
        detail = body.decode("utf-8", "replace")[:300] if isinstance(body, bytes) else body
    if isinstance(detail, list):  # validation errors
        detail = "; ".join(str(item.get("msg", item)) for item in detail)
    if status == 401:
        return Failure(4, f"the server did not accept your token: {detail} (check --token or HW1_TOKEN)")
    if status == 404:
        return Failure(3, f"not found: {detail} (check --assignment and --server)")
    if status in (400, 403, 409, 413, 422):
        return Failure(3, f"the server refused your handin: {detail}")
    if status in UNAVAILABLE:
        return Unavailable(5, f"{status}: {detail}")
    return Failure(7, f"the server answered {status}: {detail}")


def request(server, method, path, token, body=None, headers=None, progress=None):
    try:
        connection, prefix = connect(server)
        connection.putrequest(method, prefix + path)
        for name, value in {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            **(headers or {}),
        }.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if body is not None:
            for start in range(0, len(body), CHUNK):
                connection.send(body[start : start + CHUNK])
                if progress:
                    progress(min(start + CHUNK, len(body)), len(body))
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        raise Unavailable(5, f"cannot reach the grader at {server}: {error}", reached=False) from None


def multipart(path, data):
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="handin.tar"\r\n'
        "Content-Type: application/x-tar\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def status_line(text):
    sys.stdout.write("\r" + text.ljust(70))
    sys.stdout.flush()


def upload(server, token, assignment, handin, key):
    """One try at the upload; `key` (the same on every try) lets the server store it once."""
    try:
        data = handin.read_bytes()
    except OSError as error:
        raise Failure(2, f"cannot read {handin}: {error.strerror}") from None
    if not data:
        raise Failure(2, f"{handin} is empty: run ./create_tarball.sh first")
    body, content_type = multipart(handin, data)

    def progress(sent, total):
        status_line(
            f"Uploading {handin.name}: {100 * sent // total:3d}% ({sent // 1024} / {total // 1024} KB)"
        )

    status, answer = request(
        server,
        "POST",
        f"/api/v1/assignments/{assignment}/submissions",
        token,
        body,
        {"Content-Type": content_type, "Idempotency-Key": key},
        progress,
    )
    print()
    if status != 202:
        raise explain(status, answer)
    return json.loads(answer)


def wait(server, token, submission_id, timeout):
    started = time.monotonic()
    spinner = "|/-\\"
    tick = 0
    while True:
        try:
            status, answer = request(server, "GET", f"/api/v1/submissions/{submission_id}", token)
        except Unavailable:  # a moment without the server: the submission is stored, keep waiting
            status, answer = 503, b"{}"
        if status in UNAVAILABLE and time.monotonic() - started <= timeout:
            status_line(f"Submission {submission_id}: the server is temporarily unavailable, retrying")
            time.sleep(2.0)
            continue
        if status != 200:
            raise explain(status, answer)
        submission = json.loads(answer)
        elapsed = time.monotonic() - started
        if submission["status"] in ("graded", "error"):
            status_line(f"Submission {submission_id}: {submission['status']} after {elapsed:.0f} s")
            print()
            return submission
        if elapsed > timeout:
            print()
            raise Failure(
                6,
                f"still {submission['status']} after {timeout:.0f} s; see the course page later "
                f"(submission {submission_id})",
            )
        status_line(f"Submission {submission_id}: {submission['status']} {spinner[tick % 4]} {elapsed:.0f} s")
        tick += 1
        time.sleep(1.0)


def print_scores(submission):
    if submission["status"] == "error":
        raise Failure(7, f"the grader could not grade it: {submission['error']} (the staff were notified)")
    width = max((len(test["name"]) for test in submission["scores"]), default=20)
    print(f"{'test'.ljust(width)}  points")
    for test in submission["scores"]:
        mark = "ok  " if test["passed"] else "FAIL"
        print(f"{test['name'].ljust(width)}  {test['points']:g}/{test['max_points']:g} {mark}")
        if not test["passed"]:
            print(f"    {test['message']}")
    total = submission["adjusted_total"] if submission["adjusted_total"] is not None else submission["total"]
    late = (
        f" (late by {submission['late_days']} day(s); raw {submission['total']:g})"
        if submission["late"]
        else ""
    )
    print(f"Total score: {total:g}/{submission['max_score']:g}{late}")
    return 0 if all(test["passed"] for test in submission["scores"]) else 1


def main(argv=None):
    config = load_config()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("handin", type=Path, nargs="?", default=Path("handin.tar"))
    parser.add_argument("--server", default=os.environ.get("HW1_SERVER", config.get("server")))
    parser.add_argument("--token", default=os.environ.get("HW1_TOKEN", config.get("token")))
    parser.add_argument("--assignment", default=config.get("assignment", "hw1-bonus"))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the grade")
    parser.add_argument(
        "--retry-for",
        type=float,
        default=300.0,
        help="seconds to keep trying while the server is unavailable",
    )
    parser.add_argument("--no-wait", action="store_true", help="upload and exit without waiting")
    args = parser.parse_args(argv)
    try:
        if not args.server:
            raise Failure(2, "no server: pass --server URL (or set HW1_SERVER, or server= in hw1grader.ini)")
        if not args.token:
            raise Failure(4, "no token: pass --token TOKEN (or set HW1_TOKEN, or token= in hw1grader.ini)")
        if not args.handin.is_file():
            raise Failure(2, f"{args.handin} not found: run ./create_tarball.sh to make it")
        key = uuid.uuid4().hex  # one upload, however many tries
        created = retrying(
            lambda: upload(args.server, args.token, args.assignment, args.handin, key), args.retry_for
        )
        print(f"Uploaded as submission {created['id']} (version {created['version']}).")
        if args.no_wait:
            return 0
        return print_scores(wait(args.server, args.token, created["id"], args.timeout))
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return failure.code
    except KeyboardInterrupt:
        print("\ninterrupted: your upload, if it finished, is still graded", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
