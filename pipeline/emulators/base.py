"""HTTP plumbing shared by the emulators.

Each emulator is an ``App`` that turns a ``Request`` into a ``Response``. This
module serves an app on 127.0.0.1 with a threaded server and adds what every
emulator needs for tests and rehearsals:

- a request log that records method, path, status and sizes (never a header
  value, so tokens stay out of it);
- fault injection: a fixed latency per request, and rules that reply to chosen
  routes with an error status (with ``Retry-After``), a delay, or a dropped
  connection, after letting a number of matching requests pass;
- a control API under ``/_emulator/`` so that a test driving ``mrp`` in another
  process can set faults and read the log over HTTP.

Control requests are neither logged nor subject to faults.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol, TextIO
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator/"
FaultKind = Literal["status", "drop", "delay"]


@dataclass(frozen=True)
class Request:
    """One HTTP request as the app receives it; ``raw_path`` keeps percent-encoding."""

    method: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base_url: str

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def first(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None,
             content_type: str = "application/json") -> Response:
        merged = {"Content-Type": content_type, **(headers or {})}
        return cls(status, json.dumps(payload).encode(), merged)


class App(Protocol):
    def handle(self, request: Request) -> Response:
        """Handle one request of the platform's API."""

    def fault_response(self, status: int, retry_after: int | None) -> Response:
        """Build an injected error in the platform's own error format."""


@dataclass
class FaultRule:
    """Reply to requests whose ``"METHOD /path"`` matches ``route`` with a fault.

    The first ``skip`` matching requests pass untouched; the next ``times``
    (every one when ``times`` is None) get the fault.
    """

    route: str
    kind: FaultKind = "status"
    status: int = 503
    retry_after: int | None = None
    delay_s: float = 0.0
    skip: int = 0
    times: int | None = 1
    matched: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("status", "drop", "delay"):
            raise ValueError(f"unknown fault kind {self.kind!r}: use status, drop or delay")
        re.compile(self.route)

    def take(self, line: str) -> bool:
        """Count a request and return True when the fault applies to it."""
        if not re.search(self.route, line):
            return False
        self.matched += 1
        if self.matched <= self.skip:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


class FaultInjector:
    """Thread-safe set of fault rules plus a latency added to every request."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, method: str, path: str) -> FaultRule | None:
        line = f"{method} {path}"
        with self._lock:
            for rule in self._rules:
                if rule.take(line):
                    return rule
        return None


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    bytes_in: int
    bytes_out: int
    fault: str | None
    authenticated: bool
    at: float


class RequestLog:
    """Every request the app served, in order, without header values."""

    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def count(self, method: str | None = None, route: str | None = None) -> int:
        """Count requests by method and by a regex searched in the path."""
        return sum(
            1
            for entry in self.entries()
            if (method is None or entry.method == method)
            and (route is None or re.search(route, entry.path))
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm each response waits about 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            raw_path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            base_url=self.server.base_url,
        )
        if split.path.startswith(CONTROL_PREFIX):
            self._send(self.server.emulator.control(request))
            return

        emulator = self.server.emulator
        if emulator.faults.latency_s:
            time.sleep(emulator.faults.latency_s)
        rule = emulator.faults.pick(self.command, split.path)
        fault = None
        if rule is not None:
            fault = rule.kind if rule.kind != "status" else f"status {rule.status}"
            logger.info("injecting %s on %s %s", fault, self.command, split.path)
        if rule is not None and rule.kind == "drop":
            self.close_connection = True
            self._log(request, 0, 0, fault)
            return
        if rule is not None and rule.kind == "delay":
            time.sleep(rule.delay_s)
        if rule is not None and rule.kind == "status":
            response = emulator.app.fault_response(rule.status, rule.retry_after)
        else:
            try:
                response = emulator.app.handle(request)
            except Exception:  # a bug in the emulator must still answer the client
                logger.exception("emulator failed on %s %s", self.command, split.path)
                response = Response.json({"error": "emulator internal error"}, status=500)
        # Log before sending, so a client that reads the log right after its call finds this request.
        self._log(request, response.status, len(response.body), fault)
        self._send(response)

    def _log(self, request: Request, status: int, sent: int, fault: str | None) -> None:
        self.server.emulator.requests.append(
            LoggedRequest(
                method=request.method,
                path=request.raw_path,
                query=urlsplit(self.path).query,
                status=status,
                bytes_in=len(request.body),
                bytes_out=sent,
                fault=fault,
                authenticated="authorization" in request.headers,
                at=time.time(),
            )
        )

    def _send(self, response: Response) -> int:
        self.send_response(response.status)
        headers = dict(response.headers)
        headers.setdefault("Content-Length", str(len(response.body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)
        return len(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_QUERY = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator
    base_url: str


class Emulator:
    """Serve ``app`` on 127.0.0.1 in a background thread.

    Use as a context manager in tests; ``port=0`` picks a free port.
    """

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0) -> None:
        self.app = app
        self.faults = FaultInjector(latency_s)
        self.requests = RequestLog()
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self
        bound_host, bound_port = self._server.server_address[:2]
        self._server.base_url = f"http://{bound_host}:{bound_port}"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self._server.base_url

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="emulator",
                                        daemon=True)
        self._thread.start()
        logger.info("emulator serving on %s", self.url)
        return self.url

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        logger.info("emulator on %s stopped", self.url)

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def control(self, request: Request) -> Response:
        """Serve the ``/_emulator/`` API: faults, latency and the request log."""
        name = request.raw_path[len(CONTROL_PREFIX):].strip("/")
        if name == "requests" and request.method == "GET":
            return Response.json([asdict(entry) for entry in self.requests.entries()])
        if name == "requests" and request.method == "DELETE":
            self.requests.clear()
            return Response.json({"cleared": True})
        if name == "faults" and request.method == "GET":
            return Response.json([asdict(rule) for rule in self.faults.rules()])
        if name == "faults" and request.method == "POST":
            payload = request.json()
            specs = payload if isinstance(payload, list) else [payload]
            try:
                rules = [self.faults.add(FaultRule(**spec)) for spec in specs]
            except (TypeError, ValueError, re.error) as error:
                return Response.json({"error": f"invalid fault rule: {error}"}, status=400)
            return Response.json([asdict(rule) for rule in rules], status=201)
        if name == "faults" and request.method == "DELETE":
            self.faults.clear()
            return Response.json({"cleared": True})
        if name == "latency" and request.method == "PUT":
            self.faults.latency_s = float(request.json()["seconds"])
            return Response.json({"seconds": self.faults.latency_s})
        return Response.json({"error": f"unknown control route {request.method} {request.raw_path}"}, status=404)


def serve_in_foreground(app: App, port: int = 0, latency_s: float = 0.0, out: TextIO = sys.stdout) -> int:
    """Serve ``app`` until SIGINT or SIGTERM; the base URL is the first line on ``out``."""
    emulator = Emulator(app, port=port, latency_s=latency_s)
    print(emulator.url, file=out, flush=True)

    def stop(signum: int, _frame: object) -> None:
        logger.info("received signal %d, stopping", signum)
        threading.Thread(target=emulator._server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        emulator.serve_forever()
    finally:
        emulator._server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
