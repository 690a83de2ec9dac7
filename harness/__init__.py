"""Phased-rollout validation harness for the serverless video processor.

One run, one way: pytest report -> run record (harness.run.record) -> facts (harness.run.facts) ->
build_report (harness.tell.report, pure) -> write_report (harness.tell.report_writer).
"""
