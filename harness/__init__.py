"""Phased-rollout validation harness for the serverless video processor."""
