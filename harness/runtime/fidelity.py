"""The fidelity table: how a run of the local runtime enforced each Lambda behaviour (pure).

Each row says "kernel" (namespace, cgroup or tmpfs), "service" (the local
Lambda service does it, as AWS's service does), "polling", or "not enforced",
with how or why. A run where a row that the kernel could enforce was not is
"reduced fidelity", and the report's verdict line says so.
"""
from __future__ import annotations

from collections.abc import Iterable

KERNEL, SERVICE, POLLING, NONE = "kernel", "service", "polling", "not enforced"
# Rows the kernel enforces on a capable host; anything less there is reduced fidelity.
KERNEL_ROWS = ("package and layer paths", "read-only code", "interpreter and dependencies", "memory",
               "CPU", "/tmp", "process isolation", "environment", "freeze between invocations", "ulimits",
               "interpreter", "userland")


def _row(behaviour: str, enforced: str, how: str) -> dict:
    return {"behaviour": behaviour, "enforced": enforced, "how": how}


def rows(capability, *, cpu_scaling: bool, storage_mode: str, poll_interval: float,
         runtime_envs: Iterable = (), retry_delays: tuple[float, ...] = (0.5, 1.0)) -> list[dict]:
    kernel = capability.kernel
    why = capability.reason or "kernel isolation unavailable"
    envs = list(runtime_envs)
    out = []
    if kernel:
        out.append(_row("package and layer paths", KERNEL,
                        "mount namespace: package at /var/task, layers merged at /opt (/opt/bin/ffmpeg)"))
        out.append(_row("read-only code", KERNEL,
                        "read-only bind mounts; only /tmp is writable; runs as sbx_user1051 (uid 993)"))
        sdk = "; ".join(f"{e.runtime}: " + ", ".join(f"{k} {v}" for k, v in sorted(e.versions.items())
                                                    if k in ("boto3", "botocore", "awslambdaric"))
                        for e in envs if not isinstance(e, str)) or "runtime environment built on first invoke"
        out.append(_row("interpreter and dependencies", KERNEL,
                        "stdlib + package + layers + the runtime's own site-packages (" + sdk + ")"))
        for e in envs:
            if isinstance(e, str):      # no interpreter of that runtime's version: one line saying so
                out.append(_row("interpreter", NONE, e))
            else:
                out.append(_row("interpreter", KERNEL,
                                f"{e.runtime} on {e.interpreter.describe()} at /var/lang, never another version"))
        userlands = sorted({str(e.userland) for e in envs if not isinstance(e, str)})
        if userlands:
            out.append(_row("userland", KERNEL,
                            "/usr and /etc bound from one list (bash, coreutils, the interpreter's libraries, "
                            "zoneinfo; harness/runtime/userland.py): no curl, git, gcc or tar unless a layer "
                            "ships it"))
        out.append(_row("memory", KERNEL, f"memory cgroup v{capability.cgroup_version} at MemorySize: "
                        "the kernel OOM-kills; Max Memory Used is the cgroup's peak (tmpfs pages count)"))
        if cpu_scaling:
            out.append(_row("CPU", KERNEL, "CFS quota of MemorySize/1769 vCPU after init "
                            "(init: max(1, that) vCPU)"))
        else:
            out.append(_row("CPU", NONE, "--cpu-scaling off: the function gets every host core"))
        out.append(_row("process isolation", KERNEL,
                        "PID namespace: the tree dies with the instance"))
        from harness.runtime.cgroups import freezer_available

        out.append(_row("ulimits", KERNEL, "nofile 1024 (rlimit of the runtime process); processes and threads "
                        "1024 per instance (pids cgroup), as Lambda's execution environment"))

        if freezer_available():
            out.append(_row("freeze between invocations", KERNEL,
                            f"freezer cgroup (v{capability.cgroup_version}): frozen once the runtime asks for "
                            "its next event, thawed when one is handed over; threads and children the handler "
                            "left running stop"))
        else:
            out.append(_row("freeze between invocations", NONE, "no freezer cgroup on this host: what a handler "
                            "leaves running keeps running between invocations"))
        out.append(_row("environment", KERNEL,
                        "exactly AWS's variables plus terraform's (which keep their own TZ, LANG, PATH, PYTHONPATH, "
                        "X-Ray values; LD_LIBRARY_PATH gets /var/lang/lib appended for the host's libpython); "
                        "SDK endpoint from ~/.aws/config"))
    else:
        out.append(_row("package and layer paths", NONE, f"host directories, FFMPEG_PATH injected ({why})"))
        out.append(_row("read-only code", NONE, f"code directory writable, runs as the harness's user ({why})"))
        out.append(_row("interpreter and dependencies", NONE,
                        f"the harness's virtualenv: every harness package is importable ({why})"))
        out.append(_row("memory", POLLING, f"process-tree RSS polled every {poll_interval * 1000:.0f} ms "
                        f"plus each process's peak ({why})"))
        out.append(_row("CPU", NONE, f"every host core ({why})"))
        out.append(_row("process isolation", POLLING, f"process group killed; no PID namespace ({why})"))
        out.append(_row("freeze between invocations", NONE, f"instances idle live between invocations ({why})"))
        out.append(_row("ulimits", NONE, f"the harness's own limits ({why})"))
        out.append(_row("environment", NONE, f"AWS's variables plus AWS_ENDPOINT_URL, TMPDIR, HOME, "
                        f"FFMPEG_PATH ({why})"))
    if storage_mode == "ext4":
        out.append(_row("/tmp", KERNEL, "loop-mounted ext4 of EphemeralStorage per instance: a real ENOSPC, and "
                        "its pages are reclaimable page cache, not memory pinned against MemorySize (Max Memory "
                        "Used still counts the page cache the cgroup holds)"))
    elif storage_mode == "tmpfs":
        out.append(_row("/tmp", KERNEL, "sized tmpfs per instance: a real ENOSPC at EphemeralStorage; its pages "
                        "are charged to the function's memory, which AWS never does"))
    else:
        out.append(_row("/tmp", POLLING, f"directory size polled every {poll_interval * 1000:.0f} ms"))
    out.append(_row("timeout", SERVICE, "the service kills the instance's tree at Timeout after handoff"))
    out.append(_row("concurrency", SERVICE, "reserved concurrency: sync 429, async events queue"))
    gaps = " and ".join(f"{d:g} s" for d in retry_delays)
    if min(retry_delays) >= 60:
        out.append(_row("async retries", SERVICE, f"2 retries with the same request id, after {gaps} as on AWS "
                        "(--aws-timing)"))
    else:
        out.append(_row("async retries", SERVICE, f"2 retries with the same request id, after {gaps} (AWS: about "
                        "1 and 2 minutes; --aws-timing uses those)"))
    out.append(_row("payload limits", SERVICE, "6 MB synchronous request and response, 1 MB asynchronous event, "
                    "JSON bodies: refused with AWS's 413 RequestTooLargeException / 400 "
                    "InvalidRequestContentException"))
    out.append(_row("native ABI", NONE, "the sandbox's glibc is its userland's (the interpreter's root: Debian's), "
                    "and the kernel is the host's, not Amazon Linux's: a native file needing a newer glibc would "
                    "load here; 1A judges every ELF file of the package and its layers against the declared "
                    "runtime's glibc and libraries instead (harness/stack/native.py)"))
    return out


def reduced(table: list[dict]) -> list[str]:
    """Behaviours the kernel should have enforced but did not; empty means full fidelity."""
    return [r["behaviour"] for r in table if r["behaviour"] in KERNEL_ROWS and r["enforced"] != KERNEL]
