"""The processing core: what the backend's Celery path shares with the Lambda handler.

The one place the job record's rules live (status names, the table's hash key, the
timestamp format) and the job runner itself. The backend imports this module and
nothing else of the package (tests/test_import_walls.py holds it to that).
"""

from __future__ import annotations

from .clock import FORMAT as TIMESTAMP_FORMAT
from .clock import format_ts, next_timestamp
from .config import Config
from .jobs import HASH_KEY
from .keys import job_output_prefix
from .processing import run_job
from .s3io import delete_prefix
from .status import ALL_STATUSES, COMPLETED, FAILED, PROCESSING, QUEUED

__all__ = ["ALL_STATUSES", "COMPLETED", "FAILED", "HASH_KEY", "PROCESSING", "QUEUED", "TIMESTAMP_FORMAT",
           "Config", "delete_prefix", "format_ts", "job_output_prefix", "next_timestamp", "run_job"]
