"""Telling people: the report (a pure function of the run's facts), its writers, the HTML page and
charts with their templates, the ledger and its page, and redaction. Never imports pytest.
"""
