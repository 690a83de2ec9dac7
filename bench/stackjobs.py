"""Figures 2, 3 and the end-to-end half of 5: real processor jobs on the embedded stack.

A job = QUEUED record in DynamoDB + source already in S3, then a synchronous
RequestResponse invoke of the processor; timed from the invoke call until it
returns (the handler writes COMPLETED before it returns), then checked:
status COMPLETED, output_s3_urls and the objects under processed/<job_id>/ both
equal the fixture's expected segment count.

Raw transfer = boto3 ``download_file`` of the same source to a local file plus
``upload_file`` of that file to a new key, through the same gateway endpoint.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
from botocore.config import Config

from harness.local.stack import start_stack
from harness.runtime.limits import peak_rss_bytes
from harness.stack.terraform import load_stack

from .common import MB, REPO, log, paired_ratio, settle, summary

PROCESSOR = "video_processor"
SEGMENT = 10


class BenchStack:
    def __init__(self, overrides: dict | None = None, **runtime) -> None:
        spec = load_stack(REPO / "terraform", overrides=overrides or {})
        t0 = time.monotonic()
        self.stack = start_stack(spec, **runtime)
        self.startup_s = time.monotonic() - t0
        self.spec = spec
        self.bucket = spec.bucket
        self.table = spec.table.name
        self.hash_key = spec.table.hash_key
        self.fn = spec.function(PROCESSOR).name
        self.s3 = self.stack.client("s3")
        self.ddb = self.stack.client("dynamodb")
        import boto3

        from harness.local.stack import HARNESS_CREDENTIALS
        self.lam = boto3.client("lambda", endpoint_url=self.stack.endpoint, region_name=spec.region,
                                config=Config(read_timeout=960, connect_timeout=10,
                                              retries={"total_max_attempts": 1}),
                                **HARNESS_CREDENTIALS)
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-xfer-"))
        self.sources: dict[str, str] = {}

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.stack.close()

    # -- setup ------------------------------------------------------------------
    def upload_source(self, fx) -> str:
        if fx.name not in self.sources:
            key = f"uploads/bench/{uuid.uuid4().hex[:8]}/{Path(fx.path).name}"
            self.s3.upload_file(str(fx.path), self.bucket, key)
            self.sources[fx.name] = key
        return self.sources[fx.name]

    def configure(self, *, memory_mb: int, ephemeral_mb: int) -> dict:
        self.lam.update_function_configuration(FunctionName=self.fn, MemorySize=memory_mb,
                                               EphemeralStorage={"Size": ephemeral_mb})
        cfg = self.lam.get_function_configuration(FunctionName=self.fn)
        return {"MemorySize": cfg.get("MemorySize"), "Timeout": cfg.get("Timeout"),
                "EphemeralStorage_gateway": self.stack.service.ephemeral.get(self.fn, ephemeral_mb)}

    def function_config(self) -> dict:
        cfg = self.lam.get_function_configuration(FunctionName=self.fn)
        return {"MemorySize": cfg.get("MemorySize"), "Timeout": cfg.get("Timeout"),
                "EphemeralStorage": self.stack.service.ephemeral.get(
                    self.fn, (cfg.get("EphemeralStorage") or {}).get("Size", 512))}

    # -- one job ----------------------------------------------------------------
    def run_job(self, fx) -> dict:
        key = self.upload_source(fx)
        job_id = str(uuid.uuid4())
        now = "2026-01-01T00:00:00.000000Z"
        self.ddb.put_item(TableName=self.table, Item={
            self.hash_key: {"S": job_id}, "status": {"S": "QUEUED"}, "s3_key": {"S": key},
            "created_at": {"S": now}, "updated_at": {"S": now}})
        event = {"job_id": job_id, "s3_bucket": self.bucket, "s3_key": key, "segment_duration": SEGMENT}
        import json
        before = len(self.stack.runtime.records(self.fn))
        t0 = time.perf_counter()
        resp = self.lam.invoke(FunctionName=self.fn, InvocationType="RequestResponse",
                               Payload=json.dumps(event).encode())
        payload = resp["Payload"].read()
        secs = time.perf_counter() - t0
        if resp.get("FunctionError"):
            return {"seconds": secs, "segments": fx.expected_segments(SEGMENT), "segments_uploaded": 0,
                    "status": "FunctionError", "ok": False, "error": payload[:500].decode("utf-8", "replace"),
                    "job_id": job_id, "record": None}
        item = self.ddb.get_item(TableName=self.table, Key={self.hash_key: {"S": job_id}},
                                 ConsistentRead=True).get("Item", {})
        status = item.get("status", {}).get("S")
        urls = item.get("output_s3_urls", {}).get("L", [])
        want = fx.expected_segments(SEGMENT)
        prefix = f"processed/{job_id}/"
        objs = self._list(prefix)
        ok = status == "COMPLETED" and len(urls) == want and len(objs) == want
        error = None if ok else (f"status={status} urls={len(urls)} objects={len(objs)} expected {want}: "
                                 f"{item.get('error_message', {}).get('S')}")
        recs = self.stack.runtime.records(self.fn)[before:]
        rec = recs[-1] if recs else None
        self._delete(objs)
        return {"seconds": secs, "segments": want, "segments_uploaded": len(objs), "status": status,
                "ok": ok, "error": error, "job_id": job_id,
                "record": None if rec is None else {
                    "duration_ms": rec.duration_ms, "max_memory_mb": rec.max_memory_mb,
                    "max_tmp_bytes": rec.max_tmp_bytes, "outcome": rec.outcome,
                    "init_duration_ms": rec.init_duration_ms}}

    def raw_transfer(self, fx, *, stream: bool = False) -> float:
        """Seconds to download the source to a local file and upload that file again (cleanup not timed).

        stream=False: boto3 ``download_file`` (managed transfer: concurrent 8 MB ranged GETs).
        stream=True: one ``get_object`` streamed to the file (a single GET, like ffmpeg's read).
        The upload is ``upload_file`` in both cases.
        """
        key = self.upload_source(fx)
        local = self.scratch / "dl.bin"
        copy_key = f"bench-raw/{uuid.uuid4().hex}"
        t0 = time.perf_counter()
        if stream:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            with open(local, "wb") as fh:
                shutil.copyfileobj(body, fh, 1 << 20)
        else:
            self.s3.download_file(self.bucket, key, str(local))
        t1 = time.perf_counter()
        self.s3.upload_file(str(local), self.bucket, copy_key)
        secs = time.perf_counter() - t0
        self.last_raw_split = (t1 - t0, secs - (t1 - t0))
        local.unlink()
        self.s3.delete_object(Bucket=self.bucket, Key=copy_key)
        return secs

    def _list(self, prefix: str) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def _delete(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket=self.bucket,
                                   Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})


class TreeSampler:
    """Independent memory/tmp sampler for the function instance's process tree (figure 3).

    Every ``interval`` s: the concurrent RSS of each awslambdaric process tree we
    started (handler + ffmpeg), and each process's VmHWM (kernel peak RSS) so a
    spike between two samples is still seen per process.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_tree = 0
        self.hwm: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def _roots(self) -> list[psutil.Process]:
        out = []
        for p in psutil.Process(os.getpid()).children(recursive=False):
            try:
                if any("awslambdaric" in a for a in p.cmdline()):
                    out.append(p)
            except psutil.Error:
                pass
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            for root in self._roots():
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                        name = "ffmpeg" if "ffmpeg" in p.name() else "handler (python)" if p == root else p.name()
                        hwm = peak_rss_bytes(p.pid)
                        if hwm > self.hwm.get(p.pid, ("", 0))[1]:
                            self.hwm[p.pid] = (name, hwm)
                    except psutil.Error:
                        pass
                self.peak_tree = max(self.peak_tree, total)
            self._stop.wait(self.interval)

    def by_name(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, v in self.hwm.values():
            out[name] = max(out.get(name, 0), v)
        return out


def bounded_resources(bs: BenchStack, fx, *, runs: int, memory_mb: int = 512, ephemeral_mb: int = 512) -> dict:
    """Figure 3: the 1 GB job with the function at 512 MB memory / 512 MB ephemeral storage."""
    previous = bs.function_config()
    applied = bs.configure(memory_mb=memory_mb, ephemeral_mb=ephemeral_mb)
    log(f"fig3: processor configured {applied}")
    rows = []
    try:
        for r in range(runs):
            with TreeSampler() as sampler:
                job = bs.run_job(fx)
            rec = job["record"] or {}
            names = sampler.by_name()
            rows.append({"seconds": job["seconds"], "status": job["status"], "ok": job["ok"], "error": job["error"],
                         "segments": job["segments"],
                         "outcome": rec.get("outcome"),
                         "runtime_max_memory_mb": rec.get("max_memory_mb"),
                         "runtime_max_tmp_bytes": rec.get("max_tmp_bytes"),
                         "sampler_peak_tree_rss_mb": sampler.peak_tree / MB,
                         "handler_vmhwm_mb": names.get("handler (python)", 0) / MB,
                         "ffmpeg_vmhwm_mb": names.get("ffmpeg", 0) / MB})
            log(f"fig3 run {r + 1}/{runs}: {rows[-1]}")
    finally:
        bs.configure(memory_mb=int(previous["MemorySize"]), ephemeral_mb=int(previous["EphemeralStorage"]))
    return {"fixture": fx.name, "size_bytes": fx.size, "memory_limit_mb": memory_mb,
            "ephemeral_limit_mb": ephemeral_mb, "applied_config": applied,
            "storage_mode": bs.stack.runtime.storage_mode, "poll_interval_s": bs.stack.runtime.poll_interval,
            "runs": rows}


def e2e_vs_raw(bs: BenchStack, fx, *, runs: int, label: str, warmup: bool = True) -> dict:
    """Processor job vs two raw download+upload paths of the same bytes, interleaved (order rotates per round)."""
    bs.upload_source(fx)
    if warmup:
        warm = bs.run_job(fx)  # warm instance + source in place; not counted
        log(f"{label} {fx.name} warm-up job: {warm['seconds']:.2f} s ok={warm['ok']}")
    names = ["job", "raw", "raw_stream"]
    jobs: list[dict] = []
    times: dict[str, list[float]] = {n: [] for n in names}
    splits: dict[str, list[tuple[float, float]]] = {"raw": [], "raw_stream": []}
    for r in range(runs):
        order = names[r % 3:] + names[: r % 3]
        for what in order:
            settle()
            if what == "job":
                jobs.append(bs.run_job(fx))
                times["job"].append(jobs[-1]["seconds"])
                log(f"{label} {fx.name} run {r + 1}/{runs} job: {jobs[-1]['seconds']:.2f} s ok={jobs[-1]['ok']}"
                    + (f" ({jobs[-1]['error']})" if jobs[-1]["error"] else ""))
            else:
                times[what].append(bs.raw_transfer(fx, stream=what == "raw_stream"))
                splits[what].append(bs.last_raw_split)
                log(f"{label} {fx.name} run {r + 1}/{runs} {what}: {times[what][-1]:.2f} s "
                    f"(download {splits[what][-1][0]:.2f} s + upload {splits[what][-1][1]:.2f} s)")
    ok = all(j["ok"] for j in jobs)
    recs = [j["record"] or {} for j in jobs]
    return {"fixture": fx.name, "size_bytes": fx.size, "segments": fx.expected_segments(SEGMENT),
            "config": bs.function_config(), "all_completed": ok,
            "errors": sorted({j["error"] for j in jobs if j["error"]}),
            "job": summary(times["job"]),
            "raw": summary(times["raw"]),
            "raw_download": summary([a for a, _ in splits["raw"]]),
            "raw_upload": summary([b for _, b in splits["raw"]]),
            "raw_stream": summary(times["raw_stream"]),
            "raw_stream_download": summary([a for a, _ in splits["raw_stream"]]),
            "raw_stream_upload": summary([b for _, b in splits["raw_stream"]]),
            "ratio_job_over_raw": paired_ratio(times["job"], times["raw"]),
            "ratio_job_over_raw_stream": paired_ratio(times["job"], times["raw_stream"]),
            "max_memory_mb": max((r.get("max_memory_mb") or 0) for r in recs),
            "max_tmp_bytes": max((r.get("max_tmp_bytes") or 0) for r in recs)}
