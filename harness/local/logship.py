"""Ships the local runtime's function logs to the embedded CloudWatch Logs, as Lambda does.

Each function gets /aws/lambda/<name>; the harness's aws target reads logs from
there, so the served embedded stack is validated the way a real account is.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class LogShipper:
    def __init__(self, runtime, logs_client, *, interval: float = 0.5) -> None:
        self.runtime = runtime
        self.logs = logs_client
        self.interval = interval
        self.cursors: dict[str, int] = {}
        self.groups: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self._thread.start()

    def _ensure(self, group: str) -> None:
        if group in self.groups:
            return
        for call, kwargs in ((self.logs.create_log_group, {"logGroupName": group}),
                             (self.logs.create_log_stream, {"logGroupName": group, "logStreamName": "local"})):
            try:
                call(**kwargs)
            except self.logs.exceptions.ResourceAlreadyExistsException:
                pass
        self.groups.add(group)

    def ship(self) -> None:
        names = {r.function_name for r in self.runtime.records()}
        for name in sorted(names):
            lines = self.runtime.logs(name)
            start = self.cursors.get(name, 0)
            new = [line for line in lines[start:] if line.strip()]
            self.cursors[name] = len(lines)
            if not new:
                continue
            group = f"/aws/lambda/{name}"
            self._ensure(group)
            now = int(time.time() * 1000)
            for i in range(0, len(new), 1000):
                self.logs.put_log_events(logGroupName=group, logStreamName="local",
                                         logEvents=[{"timestamp": now, "message": m[:250_000]}
                                                    for m in new[i:i + 1000]])

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.ship()
            except Exception:  # shipping is best effort; the runtime keeps the logs anyway
                log.debug("log shipping failed", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.ship()
        except Exception:
            pass
