"""Running the rollout steps as gated pytest: the plugin, the run record, the gate and its file
handoff, interrupts, the fixtures phase modules use and the facts a run hands to the report.
"""
