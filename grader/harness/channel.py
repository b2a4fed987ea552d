"""The results channel between a sandbox and the grader, defined once.

The harness writes each case's frame to descriptor FD; the launcher passes everything the problems
write on through FD as records: HEADER_BYTES (the problem's index: 1 byte; its kind, an index into
KINDS: 1 byte; the length: 4 bytes big-endian), then that many bytes. Standard library only: imported
inside the sandbox (by the launcher and the harness) and on the trusted side (grader/launch.py,
grader/sandbox/process.py).
"""

FD = 3
HEADER_BYTES = 6
KINDS = ("result", "stdout", "stderr", "end")


def header(index, kind, length):
    return bytes([index, KINDS.index(kind)]) + length.to_bytes(4, "big")
