"""One loopback endpoint for the embedded AWS.

Every client (phase tests, the function, the backend, ffmpeg reading a
presigned URL) talks to this gateway through standard AWS endpoint settings.
Lambda API calls go to the LambdaService; everything else is checked against
the function role's policy when the function signed it, passed through the
fault injector, and forwarded to the moto server.
"""
from __future__ import annotations

import http.client
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from harness.local import awsreq, iam, sigcheck, wire
from harness.local.faults import FaultInjector, error_response, sleep

log = logging.getLogger(__name__)
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_CHUNK = 1 << 20


class Gateway:
    def __init__(self, moto_port: int, *, lambda_service=None, faults: FaultInjector | None = None,
                 policy=None, region: str = "us-east-1", account: str = "123456789012",
                 function_secret: str | None = None) -> None:
        self.moto_port = moto_port
        self.lambda_service = lambda_service
        self.faults = faults or FaultInjector()
        self.policy = policy
        self.region = region
        self.account = account
        self.denied: list[str] = []
        self.requests = 0
        self.sigv2: list[str] = []          # requests the function signed with SigV2 (a notice)
        self.function_secret = function_secret   # the role key's secret: its signatures are verified
        self.signatures_checked = 0
        self.rejected: list[str] = []       # function requests refused for their signature, one line each
        self.wire = wire.WireLog()          # every write the function made, with the attempt that made it
        gateway = self

        class Handler(_Handler):
            gw = gateway

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-gateway", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms per response). AWS endpoints do not behave like that.
    disable_nagle_algorithm = True
    gw: Gateway

    def log_message(self, format: str, *args) -> None:
        log.debug("gateway: " + format, *args)

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length)) if int(length) else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def send_response(self, code, message=None) -> None:
        self._status = code          # what the wire log records as the answer
        super().send_response(code, message)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        if status >= 400:
            self._error_body = body[:2048]
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in _HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _handle(self) -> None:
        gw = self.gw
        gw.requests += 1
        split = urlsplit(self.path)
        body = self._read_body()
        headers = {k: v for k, v in self.headers.items()}
        req = awsreq.parse(self.command, split.path, split.query, headers, body)
        self._status, self._error_body = 0, b""
        traced = req.access_key == iam.FUNCTION_ACCESS_KEY and wire.is_write(req.service, req.operation)
        caller = self._caller(req) if traced else None
        try:
            self._serve(gw, req, split, headers, body)
        finally:
            if traced:
                if req.service == "s3" and req.operation != "DeleteObjects":
                    resource = req.key or ""      # never decode an object's bytes: a segment is megabytes
                else:
                    resource = body[:20000].decode("utf-8", "replace")
                gw.wire.add(wire.entry(req.service, req.operation, resource, self._status, self._error_body,
                                       caller))

    def _caller(self, req) -> dict | None:
        caller = getattr(getattr(self.gw.lambda_service, "runtime", None), "caller", None)
        return caller(req.session_token) if caller is not None else None

    def _serve(self, gw, req, split, headers: dict, body: bytes) -> None:
        try:
            if req.access_key == iam.FUNCTION_ACCESS_KEY and gw.function_secret is not None:
                bad = sigcheck.verify(self.command, split.path, split.query, headers, body,
                                      signature=req.signature, secret=gw.function_secret, region=gw.region)
                gw.signatures_checked += 1
                if bad is not None:
                    gw.rejected.append(f"{req.service}:{req.operation} ({req.signature}): {bad.code}: {bad.message}")
                    log.info("gateway: refused %s", gw.rejected[-1])
                    self._send(*error_response(req, bad.code, status=bad.status, message=bad.message))
                    return
            if req.access_key == iam.FUNCTION_ACCESS_KEY:
                if req.sigv2:
                    gw.sigv2.append(f"{req.operation} s3://{req.bucket}/{req.key or ''} ({req.signature})")
                if gw.policy is not None:
                    denied = self._denied(req, body)
                    if denied:
                        gw.denied.append(denied)
                        self._send(*error_response(req, "AccessDenied"))
                        return
            if req.service == "lambda" and gw.lambda_service is not None:
                status, out_headers, out_body = gw.lambda_service.handle(self.command, split.path, split.query,
                                                                         headers, body)
                self._send(status, out_headers, out_body)
                return
            rule = gw.faults.match(req, body)
            if rule is not None:
                if rule.barrier:
                    rule.wait_at_barrier()
                sleep(rule.delay_s)
                if rule.exhaust_memory:
                    self._exhaust(rule)
                    self._send(*error_response(req, rule.error or "InternalError"))
                    return
                if rule.crash:
                    self._crash(rule)
                    self._send(*error_response(req, rule.error or "InternalError"))
                    return
                if rule.error:
                    self._send(*error_response(req, rule.error))
                    return
            self._forward(headers, body)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # never leave a client hanging
            log.exception("gateway error")
            self._send(500, {"Content-Type": "application/xml"},
                       f"<Error><Code>InternalError</Code><Message>gateway: {exc}</Message></Error>".encode())

    def _crash(self, rule) -> None:
        """Signal the function instance process at the other end of this connection; the request is
        not forwarded (it dies with its caller). Who was hit is kept on the rule for the test."""
        gw = self.gw
        runtime = getattr(gw.lambda_service, "runtime", None)
        hit = None
        if runtime is not None:
            hit = runtime.signal_client(tuple(self.client_address[:2]), gw.port, rule.crash_signal)
        if hit is None:
            log.warning("fault %s: no function instance holds the connection from %s; request failed instead",
                        rule.crash, self.client_address)
            return
        rule.crashed.append(hit)
        log.info("fault: %s sent to %s (pid %s, instance %s)", rule.crash, hit["function"], hit["pid"],
                 hit["instance"])
        self.close_connection = True

    def _exhaust(self, rule) -> None:
        """Fill the memory cgroup of the instance at the other end of this connection until its runtime is
        OOM-killed (LambdaRuntime.exhaust_client_memory); who was hit is kept on the rule, as for a crash."""
        runtime = getattr(self.gw.lambda_service, "runtime", None)
        hit = runtime.exhaust_client_memory(tuple(self.client_address[:2]), self.gw.port) if runtime else None
        if hit is None:
            log.warning("fault exhaust_memory: no function instance holds the connection from %s", self.client_address)
            return
        rule.crashed.append(hit)
        self.close_connection = True

    def _denied(self, req: awsreq.AwsRequest, body: bytes) -> str | None:
        gw = self.gw
        targets = []
        if req.service == "s3" and req.operation == "DeleteObjects":
            keys = re.findall(rb"<Key>(.*?)</Key>", body)
            targets = [("s3:DeleteObject", f"arn:aws:s3:::{req.bucket}/{k.decode()}") for k in keys]
        else:
            targets = iam.actions_and_resources(req, gw.region, gw.account)
        for action, resource in targets:
            if not iam.allowed(gw.policy, action, resource):
                return f"AccessDenied: function role may not {action} on {resource}"
        return None

    def _forward(self, headers: dict[str, str], body: bytes) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.moto_port, timeout=300)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in _HOP}
            conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST") else None,
                         headers=fwd)
            resp = conn.getresponse()
            length = resp.getheader("Content-Length")
            if length is None or self.command == "HEAD":
                data = resp.read()
                out = dict(resp.getheaders())
                if self.command == "HEAD" and length is not None:
                    self.send_response(resp.status)
                    for k, v in out.items():
                        if k.lower() not in _HOP:
                            self.send_header(k, v)
                    self.end_headers()
                    return
                self._send(resp.status, out, data)
                return
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP:
                    self.send_header(k, v)
            self.end_headers()
            remaining = int(length)
            while remaining > 0:
                chunk = resp.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                if self._status >= 400 and not self._error_body:
                    self._error_body = chunk[:2048]
                self.wfile.write(chunk)
                remaining -= len(chunk)
        finally:
            conn.close()
