"""Step 2B: prove read and write access: copy one upload byte-for-byte to test_output/."""

from __future__ import annotations

import os
from typing import Any

from ..aws import client
from ..config import Config
from ..errors import OutputVerificationFailed
from ..events import parse_source
from ..keys import test_output_key
from ..logs import configure_logging, stage
from ..retry import retry_transient
from ..s3io import download_streamed, upload_file


def roundtrip(event: Any, *, s3: Any, config: Config) -> dict:
    """Download (streamed, hashed) then upload the same bytes; nothing is written if the source is missing."""
    bucket, key = parse_source(event, config)
    output_key = test_output_key(key)
    with stage(None, "roundtrip_download", key=key) as info:
        download = download_streamed(s3, bucket, key)
        info["size"] = download.size
    try:
        with stage(None, "roundtrip_upload", key=output_key):
            upload_file(s3, download.path, bucket, output_key, content_type="application/octet-stream")
            head = retry_transient(lambda: s3.head_object(Bucket=bucket, Key=output_key))
            if int(head.get("ContentLength", -1)) != download.size:
                raise OutputVerificationFailed(f"copy {output_key} has {head.get('ContentLength')} bytes, expected {download.size}")
    finally:
        os.unlink(download.path)
    return {"size": download.size, "sha256": download.sha256, "output_key": output_key, "s3_bucket": bucket}


def handler(event: Any, context: Any) -> dict:
    config = Config.from_env()
    configure_logging(config.log_level)
    return roundtrip(event, s3=client("s3"), config=config)
