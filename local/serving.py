"""Every HTTP endpoint of the local stack is a WSGI app served here: Werkzeug's threaded server on 127.0.0.1.

An app that must not answer at all (a dead service, a hang that ends, an unreachable upstream) raises
``Reset``: the client then sees its connection reset (RST), with no HTTP answer, as from a crashed service.

Connections are kept alive (HTTP/1.1), as API Gateway, DynamoDB and S3 keep them. Werkzeug's own request
loop closes every one, and a new connection and handler thread per call doubled the chat's tail under load.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import struct
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

logger = logging.getLogger("local.serving")
STOPPING = "local.stopping"  # environ key: the server's stop event, so a held request knows to let go


class Reset(ConnectionResetError):
    """Raised by an app: no HTTP answer, the connection is reset."""


class _Handler(WSGIRequestHandler):
    timeout = 30  # an idle kept-alive client releases its thread
    # Headers and body leave in two writes; with Nagle on, delayed ACKs add ~40 ms to every answer.
    disable_nagle_algorithm = True

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[STOPPING] = self.server.stopping
        return environ

    def run_wsgi(self) -> None:
        # Werkzeug's run_wsgi answers "Connection: close", then drains the socket, which on a kept-alive
        # connection would swallow the client's next request. Here the body is read whole first (bodies in
        # the local stack are small), so the socket then stands exactly at the next request line, and an app
        # that resets or hangs (local/faults.py) never leaves a body unread.
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        if environ.get("wsgi.input_terminated"):  # a chunked body: read to its last chunk, then close
            self.close_connection = True
            body = environ["wsgi.input"].read()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        head: list[Any] = []  # status and headers, set by start_response
        sent = False

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info and sent:
                raise exc_info[1].with_traceback(exc_info[2])  # too late for another status
            head[:] = [status, headers]
            return write

        def write(data: bytes) -> None:
            nonlocal sent
            if not sent:
                sent = True
                status, headers = head
                code, _, reason = status.partition(" ")
                self.send_response(int(code), reason)
                for key, value in headers:
                    self.send_header(key, value)
                if not any(key.lower() == "content-length" for key, _ in headers):
                    self.send_header("Connection", "close")  # the body ends where the connection does
                self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        try:
            chunks = self.server.app(environ, start_response)
            try:
                for data in chunks:
                    write(data)
                if not sent:
                    write(b"")
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except (ConnectionError, TimeoutError) as error:
            self.connection_dropped(error, environ)
        except Exception:
            logger.exception("unhandled error in a local endpoint")  # no path: paths can carry webhook secrets
            self.close_connection = True
            if not sent:
                self.send_error(500)

    def log_request(self, *args: Any) -> None:
        """Not logged: request lines carry webhook paths, i.e. secrets."""

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True
        if isinstance(error, Reset):
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()


class _Server(ThreadedWSGIServer):
    block_on_close = False  # a held or idle connection must never hold up stop()

    def __init__(self, host: str, port: int, app: Any):
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        # Bound here so a busy port raises OSError; Werkzeug's own bind would exit the whole process.
        with socket.create_server((host, port), backlog=128) as sock:
            super().__init__(host, port, app, handler=_Handler, fd=sock.fileno())

    def process_request(self, request, client_address):
        with self.lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class HttpServer:
    """``app`` on ``host:port`` (0 = a free port), bound at once, serving from ``start()`` in a daemon thread."""

    def __init__(self, app: Any, name: str, host: str = "127.0.0.1", port: int = 0):
        self.name = name
        self._httpd = _Server(host, port, app)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        httpd.stopping.set()
        if self._thread is not None:  # shutdown() waits for a serve_forever() that never ran otherwise
            httpd.shutdown()
        with httpd.lock:
            open_connections = list(httpd.connections)
        for sock in open_connections:
            # Wakes handler threads parked on idle reads so nothing outlives the server.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
