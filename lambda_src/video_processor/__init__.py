"""Serverless video processor: cuts uploaded videos into fixed-length MP4 segments.

The package is the Lambda deployment root's only code; boto3 comes from the
runtime. ``processing.run_job`` is the shared core (Lambda and the Celery
worker both call it); ``handlers`` holds one thin entry point per rollout step.
"""
