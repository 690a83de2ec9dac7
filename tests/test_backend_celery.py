"""The Celery task calls the shared run_job; and one real worker + Redis + moto server run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from backend_support import BUCKET, REGION, REPO, TABLE, create_aws_resources, make_settings
from fastapi.testclient import TestClient

from backend import tasks
from backend.app import create_app
from backend.aws import AwsClients, make_client
from backend.dispatch import CeleryDispatcher, DispatchError

EVENT = {"job_id": str(uuid.uuid4()), "s3_bucket": BUCKET, "s3_key": "uploads/v.mp4", "segment_duration": 10}


def test_celery_app_uses_redis_url_for_broker_and_backend():
    app = tasks.make_celery(make_settings(REDIS_URL="redis://127.0.0.1:6399/3"))
    assert app.conf.broker_url == "redis://127.0.0.1:6399/3"
    assert app.conf.result_backend == "redis://127.0.0.1:6399/3"
    assert tasks.process_video_task.name in tasks.celery_app.tasks
    assert tasks.app is tasks.celery_app


def test_task_calls_run_job_as_celery_with_task_id(monkeypatch):
    from video_processor import core

    calls = []

    def fake_run_job(event, **kwargs):
        calls.append((event, kwargs))
        return {"job_id": event["job_id"], "status": "COMPLETED", "segments_created": 1, "output_s3_urls": []}

    monkeypatch.setattr(core, "run_job", fake_run_job)
    monkeypatch.setattr(tasks, "settings", make_settings(FFMPEG_PATH="/usr/bin/ffmpeg-x"))
    monkeypatch.setattr(tasks, "_clients", AwsClients(s3="S3", dynamodb="DDB", lambda_client="L"))
    result = tasks.process_video_task.apply(args=[EVENT], task_id="celery-task-42")
    assert result.get()["status"] == "COMPLETED"
    (event, kwargs) = calls[0]
    assert event == EVENT
    assert kwargs["processing_method"] == "celery" and kwargs["request_id"] == "celery-task-42"
    assert kwargs["s3"] == "S3" and kwargs["dynamodb"] == "DDB"
    cfg = kwargs["config"]
    assert (cfg.bucket, cfg.table, cfg.ffmpeg_path, cfg.timeout_margin_ms, cfg.log_level) == (
        BUCKET,
        TABLE,
        "/usr/bin/ffmpeg-x",
        10000,
        "INFO",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dispatcher_with_unreachable_broker_raises_dispatch_error():
    app = tasks.make_celery(make_settings(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0"))
    started = time.monotonic()
    with pytest.raises(DispatchError, match="could not queue Celery task"):
        CeleryDispatcher(app)(EVENT)
    assert time.monotonic() - started < 30


# ----------------------------------------------------------------------------- real worker


@pytest.fixture
def redis_url(tmp_path):
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not on PATH (install it, e.g. apt-get install redis-server, to run the real-worker test)")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(100):
            try:
                if client.ping():
                    break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer PING")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _make_video(path: Path, seconds: int = 3) -> None:
    import imageio_ffmpeg

    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=160x120:rate=10",
            "-c:v", "mpeg4", "-g", "10", "-pix_fmt", "yuv420p", str(path),
        ],
        check=True,
        timeout=60,
    )


def test_real_worker_processes_a_job_end_to_end(redis_url, moto_server, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    s3, _ddb = create_aws_resources(endpoint_url=moto_server)
    video = tmp_path / "in.mp4"
    _make_video(video)
    s3.upload_file(str(video), BUCKET, "uploads/e2e/in.mp4")

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "lambda_src")]),
        "REDIS_URL": redis_url,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_BUCKET_NAME": BUCKET,
        "DYNAMODB_TABLE_NAME": TABLE,
    }
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "backend.tasks", "worker", "--pool=solo", "-l", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        settings = make_settings(REDIS_URL=redis_url, SEGMENT_DURATION=1)
        app = create_app(
            settings,
            dispatcher=CeleryDispatcher(tasks.make_celery(settings)),
            aws=AwsClients(
                s3=make_client("s3", endpoint_url=moto_server, region_name=REGION),
                dynamodb=make_client("dynamodb", endpoint_url=moto_server, region_name=REGION),
            ),
        )
        client = TestClient(app)
        job_id = str(uuid.uuid4())
        r = client.post("/api/upload/complete", json={"s3_key": "uploads/e2e/in.mp4", "job_id": job_id, "segment_duration": 1})
        assert r.status_code == 202, r.text
        assert r.json()["processing_method"] == "celery"

        deadline = time.monotonic() + 90
        status = {}
        while time.monotonic() < deadline:
            status = client.get(f"/api/jobs/{job_id}/status").json()
            if status.get("status") in ("COMPLETED", "FAILED"):
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        assert status.get("status") == "COMPLETED", (status, (tmp_path / "worker.log").read_text(errors="replace")[-3000:])
        assert status["processing_method"] == "celery"
        assert status["segments_created"] >= 2
        assert len(status["download_urls"]) == status["segments_created"]
        assert all(k.startswith(f"processed/{job_id}/segment_") for k in status["segments"])
        got = httpx.get(status["download_urls"][0], timeout=10)
        assert got.status_code == 200 and len(got.content) > 100
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
