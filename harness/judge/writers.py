"""Who wrote what: R1, R2 and R3 proven from the wire log, not from the final record (pure).

Each entry is one write request the function made at the AWS boundary (harness.local.wire):
its operation, the key or item, the answer, and the delivery (request id) and attempt that
made it. A 2xx answer is a write; a conditional write refused with ConditionalCheckFailed, or
any other error, is not.
"""
from __future__ import annotations

from collections import OrderedDict

OBJECT_WRITES = ("PutObject", "CompleteMultipartUpload", "CopyObject")     # what leaves an object behind


def _describe(entries) -> str:
    shown = [f"{e.operation} {e.resource[:80]}" if e.service == "s3" else f"{e.operation} on the job record"
             for e in entries[:3]]
    return ", ".join(shown) + (f" (+{len(entries) - 3} more)" if len(entries) > 3 else "")


def one_delivery_wrote(entries, job_id: str) -> list[str]:
    """R1: the successful writes for a job come from one delivery (request id) only."""
    wrote = [e for e in entries if e.wrote]
    by_request: OrderedDict[str | None, list] = OrderedDict()
    for e in wrote:
        by_request.setdefault(e.request_id, []).append(e)
    lines = []
    if None in by_request:
        lines.append(f"job {job_id}: {len(by_request[None])} write(s) made while no invocation was running "
                     f"(after its handler returned): {_describe(by_request[None])}")
    delivered = [rid for rid in by_request if rid is not None]
    if len(delivered) > 1:
        lines.append(f"job {job_id}: {len(delivered)} deliveries wrote, where exactly one may: "
                     + "; ".join(f"request {rid} made {len(by_request[rid])} write(s): {_describe(by_request[rid])}"
                                 for rid in delivered))
    return lines


def no_write_after(entries, since: float) -> list[str]:
    """R2: a redelivery of a finished job writes nothing: no successful write arrived after `since`."""
    late = [e for e in entries if e.wrote and e.at >= since]
    if not late:
        return []
    return [f"the redelivery wrote {len(late)} time(s): {_describe(late)} (request {late[0].request_id})"]


def finished_once(entries, output_prefix: str) -> list[str]:
    """R3: the attempt that finished the job wrote each of its outputs once. What earlier attempts left
    is judged by the final state (a COMPLETED job lists exactly the objects that exist)."""
    objects = [e for e in entries if e.wrote and e.service == "s3" and e.operation in OBJECT_WRITES
               and e.resource.startswith(output_prefix)]
    if not objects:
        return []
    last = (objects[-1].request_id, objects[-1].attempt)
    final = [e for e in objects if (e.request_id, e.attempt) == last]
    counts: dict[str, int] = {}
    for e in final:
        counts[e.resource] = counts.get(e.resource, 0) + 1
    twice = sorted(k for k, n in counts.items() if n > 1)
    lines = []
    if twice:
        lines.append(f"attempt {last[1]} of request {last[0]} wrote {twice[0]} {counts[twice[0]]} times"
                     + (f" (and {len(twice) - 1} more keys)" if len(twice) > 1 else ""))
    return lines
