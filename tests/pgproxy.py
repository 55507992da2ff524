"""A loopback TCP proxy in front of PostgreSQL that loses the reply to COMMIT.

The server receives the COMMIT and commits; the client never hears so: its connection drops. That
is the in-doubt case every distributed system meets (a network cut, a failover), made exact: the
proxy reads the client's protocol messages and, once it has forwarded a simple-query COMMIT, stops
relaying and closes the client's socket.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SSL_REQUEST, GSS_REQUEST = 80877103, 80877104


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class LoseCommitReply:
    """Proxy from a free loopback port to `upstream`; `armed` decides whether COMMIT replies are lost."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.armed = threading.Event()
        self.commits_lost = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            cut = threading.Event()
            threading.Thread(target=self._server_to_client, args=(server, client, cut), daemon=True).start()
            threading.Thread(target=self._client_to_server, args=(client, server, cut), daemon=True).start()

    def _server_to_client(self, server: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        try:
            while not cut.is_set():
                data = server.recv(65536)
                if not data or cut.is_set():
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            for s in (client, server):
                s.close()

    def _client_to_server(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        try:
            while True:  # untyped start-up messages: SSL/GSS requests (answered by one byte), then the start-up packet
                length = struct.unpack("!i", _read_exact(client, 4))[0]
                body = _read_exact(client, length - 4)
                server.sendall(struct.pack("!i", length) + body)
                if struct.unpack("!i", body[:4])[0] not in (SSL_REQUEST, GSS_REQUEST):
                    break
            while True:
                kind = _read_exact(client, 1)
                length = struct.unpack("!i", _read_exact(client, 4))[0]
                body = _read_exact(client, length - 4)
                commit = kind == b"Q" and body.rstrip(b"\x00").strip().upper() in (b"COMMIT", b"COMMIT;")
                if commit and self.armed.is_set():
                    cut.set()  # nothing more reaches the client, not even the reply to this
                server.sendall(kind + struct.pack("!i", length) + body)
                if commit and cut.is_set():
                    self.commits_lost += 1
                    client.shutdown(socket.SHUT_RDWR)
                    return
        except (OSError, ConnectionError):
            pass
        finally:
            client.close()


@contextmanager
def losing_commit_replies(host: str = "127.0.0.1", port: int = 5432) -> Iterator[LoseCommitReply]:
    proxy = LoseCommitReply((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
