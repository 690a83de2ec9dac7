"""Phased-rollout validation harness for the serverless video processor.

One run, one way: pytest report -> run record (harness.record) -> facts (harness.facts) ->
build_report (harness.report, pure) -> write_report (harness.report_writer).
"""
