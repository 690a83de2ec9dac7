"""A Lambda Runtime API server for one function instance.

It plays the part of AWS's Runtime Interface Emulator (RAPID): the official
runtime interface client in the instance long-polls ``/invocation/next`` and
posts the handler's response or error back. One server per instance means the
port identifies the instance, so no routing is needed.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    """One invocation handed to the runtime, and what it answered."""

    request_id: str
    payload: bytes
    function_arn: str
    timeout_s: float
    trace_id: str = ""
    deadline_ms: int = 0                 # epoch ms, fixed when handed out
    handed_out_at: float = 0.0           # time.monotonic() at hand-out
    handed_out: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    response: bytes | None = None
    error: bytes | None = None
    error_type: str | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # else Nagle + delayed ACK add ~40 ms per request
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the runtime's traffic out of the test output

    def _reply(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", (headers or {}).get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if body:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True   # the runtime process is gone

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:
        api = self.server.api
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        api.mark_ready()
        inv = api.next_invocation()
        if inv is None:  # server closing
            self._reply(410, b'{"errorMessage":"runtime shutting down"}')
            self.close_connection = True
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
            "Lambda-Runtime-Trace-Id": inv.trace_id,
            "Content-Type": "application/json",
        }
        try:
            self._reply(200, inv.payload, headers)
        except OSError:
            pass  # the instance died; the waiter notices the dead process

    def do_POST(self) -> None:
        api = self.server.api
        body = self._body()
        path = self.path
        err_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        if path == f"{PREFIX}/init/error":
            api.post_init_error(body, err_type)
            self._reply(202, b'{"status":"OK"}')
            return
        if path.startswith(f"{PREFIX}/invocation/"):
            rest = path[len(f"{PREFIX}/invocation/"):]
            rid, _, kind = rest.rpartition("/")
            if kind in ("response", "error") and rid:
                if api.post_result(rid, kind, body, err_type):
                    self._reply(202, b'{"status":"OK"}')
                else:
                    self._reply(400, b'{"errorMessage":"invalid request id","errorType":"InvalidRequestID"}')
                return
        self._reply(404, b'{"errorMessage":"not found"}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: RuntimeApiServer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a killed runtime drops its connection mid-request; that is expected


class RuntimeApiServer:
    """Hands invocations to one runtime process and collects its answers."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Invocation] = queue.Queue()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self.current: Invocation | None = None
        self.ready = threading.Event()          # first /next seen: init finished
        self.waiting = threading.Event()        # the runtime is asking for its next event (freeze now)
        self.ready_at: float | None = None
        self.init_error: bytes | None = None
        self.init_error_type: str | None = None
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.api = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="lambda-runtime-api", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{host}:{port}"

    # -- called by the harness ------------------------------------------------
    def submit(self, inv: Invocation) -> None:
        self._queue.put(inv)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- called by the HTTP handler ------------------------------------------
    def mark_ready(self) -> None:
        if not self.ready.is_set():
            self.ready_at = time.monotonic()
            self.ready.set()

    def next_invocation(self) -> Invocation | None:
        """Block until an invocation is submitted (bounded by close())."""
        self.waiting.set()
        while not self._closed.is_set():
            try:
                inv = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._lock:
                inv.deadline_ms = int((time.time() + inv.timeout_s) * 1000)
                inv.handed_out_at = time.monotonic()
                self.current = inv
            self.waiting.clear()
            inv.handed_out.set()
            return inv
        return None

    def post_result(self, request_id: str, kind: str, body: bytes, err_type: str | None) -> bool:
        with self._lock:
            inv = self.current
            if inv is None or inv.request_id != request_id or inv.done.is_set():
                return False
            if kind == "response":
                inv.response = body
            else:
                inv.error = body
                inv.error_type = err_type or _error_type_of(body)
            self.current = None
        inv.done.set()
        return True

    def post_init_error(self, body: bytes, err_type: str | None) -> None:
        self.init_error = body
        self.init_error_type = err_type or _error_type_of(body)
        self.mark_ready()


def _error_type_of(body: bytes) -> str | None:
    try:
        v = json.loads(body)
        return v.get("errorType") if isinstance(v, dict) else None
    except (ValueError, UnicodeDecodeError):
        return None
