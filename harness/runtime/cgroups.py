"""Per-instance memory and CPU cgroups: the kernel enforces MemorySize and the CPU share.

Lambda runs each execution environment with a hard memory limit and a CPU
share proportional to memory. Here each instance gets its own group under
``rollout-harness/``: cgroup v1 (``memory`` and ``cpu`` hierarchies) or v2 (one
unified group), whichever the host mounts. The runtime process joins the group
before it execs the interpreter, so everything the function starts (ffmpeg) is
counted and limited with it.

Between invocations the group is frozen (v1 ``freezer`` hierarchy, v2 ``cgroup.freeze``), as
AWS freezes an execution environment once its runtime asks for the next event: threads and
children the handler left running stop until the next invoke, which may never come.

The kernel's counters replace polling: ``memory.max_usage_in_bytes`` (v1) or
``memory.peak`` (v2) is the peak, and the ``oom_kill`` counter says the kernel
killed a process of the group for going over the limit.
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "rollout-harness"
CFS_PERIOD_US = 100_000


class CgroupError(RuntimeError):
    """The host does not let us create or configure a cgroup."""


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise CgroupError(f"cannot write {value!r} to {path}: {e.strerror}") from None


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _read_key(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def version(root: Path = ROOT) -> int | None:
    """1 or 2 when memory and cpu controllers are available, else None."""
    if (root / "memory" / "memory.limit_in_bytes").exists() and (root / "cpu" / "cpu.cfs_quota_us").exists():
        return 1
    controllers = root / "cgroup.controllers"
    if controllers.exists() and {"memory", "cpu"} <= set(controllers.read_text().split()):
        return 2
    return None


class Cgroup:
    """One instance's group(s). Create with `Cgroup.create`; always `remove()` it."""

    def __init__(self, name: str, ver: int, root: Path = ROOT) -> None:
        self.name = name
        self.version = ver
        self.freezer: Path | None = None
        self.pids_dir: Path | None = None
        if ver == 1:
            self.memory = root / "memory" / GROUP / name
            self.cpu = root / "cpu" / GROUP / name
            self.dirs = [self.memory, self.cpu]
            if (root / "pids" / "cgroup.procs").exists():
                self.pids_dir = root / "pids" / GROUP / name
                self.dirs.append(self.pids_dir)
            if (root / "freezer" / "tasks").exists() or (root / "freezer" / "cgroup.procs").exists():
                self.freezer = root / "freezer" / GROUP / name
                self.dirs.append(self.freezer)
        else:
            self.memory = self.cpu = root / GROUP / name
            self.dirs = [self.memory]
            self.freezer = self.memory          # cgroup.freeze lives in every non-root v2 group
            controllers = root / "cgroup.controllers"
            if controllers.exists() and "pids" in controllers.read_text().split():
                self.pids_dir = self.memory
        self.frozen = False

    def set_pids_max(self, count: int) -> bool:
        """At most `count` processes and threads in the group; False where no pids controller exists."""
        if self.pids_dir is None or not (self.pids_dir / "pids.max").exists():
            return False
        _write(self.pids_dir / "pids.max", str(count))
        return True

    @classmethod
    def create(cls, name: str, memory_mb: int, *, root: Path = ROOT) -> Cgroup:
        ver = version(root)
        if ver is None:
            raise CgroupError(f"no memory+cpu cgroup controllers under {root}")
        cg = cls(name, ver, root)
        try:
            if ver == 2:
                parent = root / GROUP
                parent.mkdir(exist_ok=True)
                _write(parent / "cgroup.subtree_control", "+memory +cpu" + (" +pids" if cg.pids_dir else ""))
            for d in cg.dirs:
                d.mkdir(parents=True, exist_ok=True)
            limit = str(int(memory_mb) * 1024 * 1024)
            if ver == 1:
                _write(cg.memory / "memory.limit_in_bytes", limit)
                if (cg.memory / "memory.memsw.limit_in_bytes").exists():
                    _write(cg.memory / "memory.memsw.limit_in_bytes", limit)  # no swapping past it
                _write(cg.memory / "memory.swappiness", "0")
            else:
                _write(cg.memory / "memory.max", limit)
                _write(cg.memory / "memory.swap.max", "0")
        except (OSError, CgroupError) as e:
            cg.remove()
            raise CgroupError(str(e)) from None
        return cg

    @property
    def procs_files(self) -> list[str]:
        """Files the runtime writes its pid into to join every group."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def set_cpu(self, vcpus: float | None) -> None:
        """Quota of vcpus CPUs per period; None lifts it."""
        quota = -1 if vcpus is None else max(1000, round(vcpus * CFS_PERIOD_US))
        if self.version == 1:
            _write(self.cpu / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(self.cpu / "cpu.cfs_quota_us", str(quota))
        else:
            _write(self.cpu / "cpu.max", f"{'max' if quota < 0 else quota} {CFS_PERIOD_US}")

    @property
    def can_freeze(self) -> bool:
        if self.freezer is None:
            return False
        return (self.freezer / ("freezer.state" if self.version == 1 else "cgroup.freeze")).exists()

    def freeze(self, timeout: float = 2.0) -> bool:
        """Stop every process of the group; True once the kernel says the group is frozen."""
        if not self.can_freeze:
            return False
        if self.version == 1:
            _write(self.freezer / "freezer.state", "FROZEN")
            state = lambda: (self.freezer / "freezer.state").read_text().strip() == "FROZEN"
        else:
            _write(self.freezer / "cgroup.freeze", "1")
            state = lambda: _read_key(self.freezer / "cgroup.events", "frozen") == 1
        end = time.monotonic() + timeout
        while not state():
            if time.monotonic() > end:
                return False
            time.sleep(0.002)
        self.frozen = True
        return True

    def thaw(self) -> None:
        if self.can_freeze and self.frozen:
            _write(self.freezer / ("freezer.state" if self.version == 1 else "cgroup.freeze"),
                   "THAWED" if self.version == 1 else "0")
            self.frozen = False

    def peak_bytes(self) -> int:
        if self.version == 1:
            return _read_int(self.memory / "memory.max_usage_in_bytes")
        return _read_int(self.memory / "memory.peak")

    def usage_bytes(self) -> int:
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return _read_int(self.memory / name)

    def oom_kills(self) -> int:
        if self.version == 1:
            return _read_key(self.memory / "memory.oom_control", "oom_kill")
        return _read_key(self.memory / "memory.events", "oom_kill")

    def cpu_throttled_us(self) -> int:
        if self.version == 1:
            return _read_key(self.cpu / "cpu.stat", "throttled_time") // 1000
        return _read_key(self.cpu / "cpu.stat", "throttled_usec")

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.memory / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def remove(self, timeout: float = 5.0) -> None:
        """rmdir the groups once their processes are gone (the kernel frees them lazily)."""
        end = time.monotonic() + timeout
        for d in self.dirs:
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > end:
                        break
                    time.sleep(0.02)


def freezer_available(root: Path = ROOT) -> bool:
    """Whether instances can be frozen between invocations on this host."""
    ver = version(root)
    if ver == 1:
        return (root / "freezer" / "freezer.state").exists() or (root / "freezer" / "tasks").exists()
    return ver == 2


def vcpus_for(memory_mb: int) -> float:
    """Lambda's CPU share for a memory size.

    "Lambda allocates CPU power in proportion to the amount of memory configured
    ... At 1,769 MB, a function has the equivalent of one vCPU (one vCPU-second
    of credits per second)." Memory ranges from 128 to 10,240 MB, which gives at
    most 10240/1769 = 5.79 vCPU of the 6 an environment can see.
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
    """
    return int(memory_mb) / 1769.0


def init_vcpus_for(memory_mb: int) -> float:
    """The CPU share during the init phase of an on-demand function: at least one full vCPU.

    The Developer Guide says only that init is limited to 10 seconds. AWS's own
    Serverless Land guide says "On-demand Lambda functions use a full vCPU
    (non-throttled) ... during its initialization phase"; for provisioned
    concurrency "there is no cpu burst".
    https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting
    """
    return max(1.0, vcpus_for(memory_mb))
