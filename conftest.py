"""Thin: the harness lives in harness/; this only loads its plugin."""
pytest_plugins = ["harness.run.plugin", "harness.run.fixtures", "pytester"]
