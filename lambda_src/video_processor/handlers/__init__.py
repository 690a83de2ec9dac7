"""Thin Lambda entry points, one per rollout step: parse, call pure code, shape the result."""
