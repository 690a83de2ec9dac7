"""Evidence a phase test records for the report, carried in pytest's user_properties.

user_properties travel with each test report, also from xdist workers to the
controller, so evidence reaches the report whichever process ran the test.
"""
from __future__ import annotations

from harness.plan.catalogue import QUESTION_KEYS


class Evidence:
    def __init__(self, sink: list) -> None:
        self._sink = sink

    def add(self, question: str, text: str) -> None:
        if question not in QUESTION_KEYS:
            raise ValueError(f"evidence question {question!r} is not one of {QUESTION_KEYS}")
        self._sink.append(("evidence", {"question": question, "text": text}))

    def metric(self, name: str, value: object) -> None:
        self._sink.append(("metric", {"name": name, "value": value}))

    def warnings(self, counts: dict[str, int]) -> None:
        self._sink.append(("warnings", dict(counts)))

    def series(self, chart: str, data: dict) -> None:
        """Structured measurements for a chart; the data of one chart from several tests is merged key by key."""
        self._sink.append(("series", {"chart": chart, "data": data}))

    def table(self, title: str, headers: list[str], rows: list[list]) -> None:
        self._sink.append(("table", {"title": title, "headers": headers, "rows": rows}))
