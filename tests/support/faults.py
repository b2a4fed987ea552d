"""Real outages for the fault tests: a Redis server of our own, and a TCP proxy in front of PostgreSQL."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time


def wait_port(port: int, open_: bool = True, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            reachable = sock.connect_ex(("127.0.0.1", port)) == 0
        if reachable == open_:
            return
        time.sleep(0.05)
    raise AssertionError(f"port {port} did not become {'open' if open_ else 'closed'}")


class RedisServer:
    """A real redis-server on its own port, which a test may stop and start again."""

    def __init__(self, port: int):
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        wait_port(self.port, open_=False)


class TcpProxy:
    """Forwards a local port to a server.

    `cut()` drops every connection and refuses new ones until `restore()`. `pause()` keeps every
    connection open and takes new ones, but forwards nothing either way until `restore()`: a server
    that hangs, or a network that drops packets, seen from the client.
    """

    def __init__(self, port: int, target_port: int):
        self.port, self.target_port = port, target_port
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.flowing = threading.Event()
        self.flowing.set()

    def pause(self) -> None:
        self.flowing.clear()

    def restore(self) -> None:
        if not self.flowing.is_set():  # paused: let it flow again
            self.flowing.set()
            return
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread: close alone would not
            listener.close()
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self.flowing.wait()
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
