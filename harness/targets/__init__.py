"""Targets: the deployed system the phase modules talk to, local (embedded) or aws."""
from __future__ import annotations


def open_target(name: str, config):
    """Build the target for a session; the plugin guarantees name is 'local' or 'aws'."""
    if name == "local":
        from harness.targets.local import LocalTarget

        return LocalTarget.start(config)
    if name == "aws":
        from harness.targets.aws import AwsTarget

        return AwsTarget.connect(config)
    raise ValueError(f"unknown target {name!r}; use local or aws")
