"""A seccomp filter for the sandboxed program: the few system calls a handin never needs, and that
reach past its cgroup, are refused.

Found by attacking the sandbox: socket memory is not charged to a cgroup v1 memory limit (netlink
queues took 6.5 GiB of the host at a 1 GiB limit, and TCP buffers exhausted the host's tcp_mem,
resetting its own connections), a process that starts a session of its own gets a scheduling group
of its own (58 of them slowed the host's other processes twentyfold), and inotify instances are
counted per uid on the whole host. The graded code needs none of them: sockets other than AF_UNIX,
setsid, inotify, keyrings, io_uring and POSIX message queues fail with an error instead.

The filter is classic BPF as bubblewrap's --seccomp takes it, built here for x86_64 and aarch64;
any other architecture is refused outright (the worker cannot confine there).
"""

from __future__ import annotations

import errno
import platform
import struct

from grader.sandbox.base import SandboxUnavailable

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
NR, ARCH, ARG0 = 0, 4, 16
LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
ALLOW, KILL_PROCESS, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
AF_UNIX = 1
X32_BIT = 0x40000000

ARCHES = {  # machine: (AUDIT_ARCH_*, {system call: number})
    "x86_64": (
        0xC000003E,
        {
            "socket": 41,
            "setsid": 112,
            "inotify_init": 253,
            "inotify_init1": 294,
            "add_key": 248,
            "request_key": 249,
            "keyctl": 250,
            "mq_open": 240,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "socket": 198,
            "setsid": 157,
            "inotify_init1": 26,
            "add_key": 217,
            "request_key": 218,
            "keyctl": 219,
            "mq_open": 180,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
        },
    ),
}
REFUSED = {  # system call: errno (socket is refused for every family but AF_UNIX)
    "socket": errno.EAFNOSUPPORT,
    "setsid": errno.EPERM,
    "inotify_init": errno.EMFILE,
    "inotify_init1": errno.EMFILE,
    "add_key": errno.ENOSYS,
    "request_key": errno.ENOSYS,
    "keyctl": errno.ENOSYS,
    "mq_open": errno.ENOSYS,
    "io_uring_setup": errno.ENOSYS,
    "io_uring_enter": errno.ENOSYS,
    "io_uring_register": errno.ENOSYS,
}


Line = tuple[str] | tuple[int, int, str | None, str | None]  # ("label",) or (code, k, if true, if false)


def assemble(lines: list[Line]) -> bytes:
    """Classic BPF from instructions whose jumps name labels; a label line marks the next instruction."""
    labels, position = {}, 0
    for line in lines:
        if len(line) == 1:
            labels[line[0]] = position
        else:
            position += 1
    code, position = [], 0
    for line in lines:
        if len(line) == 1:
            continue
        operation, k, if_true, if_false = line
        jumps = [labels[target] - position - 1 if target else 0 for target in (if_true, if_false)]
        code.append(struct.pack("=HBBI", operation, jumps[0], jumps[1], k))
        position += 1
    return b"".join(code)


def program(machine: str | None = None) -> bytes:
    """The filter for `machine` (this one's by default), as bwrap's --seccomp reads it."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise SandboxUnavailable(f"no seccomp filter for {machine}: the sandbox supports x86_64 and aarch64")
    audit_arch, numbers = ARCHES[machine]
    refused = [name for name in REFUSED if name in numbers]
    lines: list[Line] = [
        (LD_W_ABS, ARCH, None, None),
        (JEQ_K, audit_arch, None, "kill"),  # another ABI of this kernel: killed
        (LD_W_ABS, NR, None, None),
    ]
    if machine == "x86_64":
        lines.append((JGE_K, X32_BIT, "x32", None))  # x32 calls: refused
    lines += [(JEQ_K, numbers[name], name, None) for name in refused]
    lines += [(RET_K, ALLOW, None, None)]
    for name in refused:
        lines.append((name,))
        if name == "socket":  # refused for every family but AF_UNIX
            lines += [(LD_W_ABS, ARG0, None, None), (JEQ_K, AF_UNIX, "allow", None)]
        lines.append((RET_K, RET_ERRNO | REFUSED[name], None, None))
    return assemble(
        lines
        + [("x32",), (RET_K, RET_ERRNO | errno.ENOSYS, None, None)]
        + [("allow",), (RET_K, ALLOW, None, None)]
        + [("kill",), (RET_K, KILL_PROCESS, None, None)]
    )
