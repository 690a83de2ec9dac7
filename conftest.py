"""Thin: the harness lives in harness/; this only loads its plugin."""
pytest_plugins = ["harness.plugin", "harness.fixtures", "pytester"]
