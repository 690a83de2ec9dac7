"""The Lambda sandbox of one instance: what it sees, and how it is started.

`plan` is pure: from a function's paths it lays out the file system AWS gives
a function (read-only /var/task and /opt, the interpreter at /var/lang with only
the runtime's own site-packages, a sized /tmp, nothing else writable), the
user and the environment. `sandbox_init.py` carries the plan out with
namespaces, mounts and cgroups. `probe` finds out once whether this host lets
us do that at all; where it does not, the runtime falls back to plain
processes and the report says "reduced fidelity".
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import awsruntime, cgroups, interpreters, limits, userland

log = logging.getLogger(__name__)

INIT_SCRIPT = Path(__file__).with_name("sandbox_init.py")
SETUP_FAILED = 121      # sandbox_init's exit status when the sandbox itself could not be built
# merged /usr, as Amazon Linux 2023 has it: the userland's own tree behind these
USR_LINKS = {"/bin": "usr/bin", "/lib": "usr/lib", "/lib64": "usr/lib64", "/sbin": "usr/sbin"}
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


@dataclass(frozen=True)
class Capability:
    """What this host lets the runtime enforce with the kernel."""

    namespaces: bool
    cgroup_version: int | None
    reason: str = ""             # why not, in one line

    @property
    def kernel(self) -> bool:
        return self.namespaces and self.cgroup_version is not None


def instance_files(inst_dir: Path, endpoint_url: str | None) -> dict[str, Path]:
    """Write the few files the sandbox gets that are not the host's: passwd, group, the user's home."""
    files = {"root": inst_dir / "root", "empty": inst_dir / "empty", "home": inst_dir / "home",
             "passwd": inst_dir / "passwd", "group": inst_dir / "group"}
    for key in ("root", "empty", "home"):
        files[key].mkdir(parents=True, exist_ok=True)
    u, uid, gid = awsruntime.SANDBOX_USER, awsruntime.SANDBOX_UID, awsruntime.SANDBOX_GID
    files["passwd"].write_text(f"root:x:0:0:root:/root:/sbin/nologin\n"
                               f"{u}:x:{uid}:{gid}::/home/{u}:/sbin/nologin\n")
    files["group"].write_text(f"root:x:0:\n{u}:x:{gid}:\n")
    if endpoint_url:
        # The stand-in for AWS's DNS: every SDK call of the function reaches the
        # embedded endpoint through the shared config file, not through a variable
        # AWS would never set.
        aws = files["home"] / ".aws"
        aws.mkdir(exist_ok=True)
        (aws / "config").write_text(f"[default]\nendpoint_url = {endpoint_url}\n")
    for path in [*files.values(), *files["home"].rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(inst_dir, 0o755)
    return files


def plan(*, code_dir: Path, opt_dir: Path | None, tmp_dir: Path, files: dict[str, Path],
         env: awsruntime.RuntimeEnv, handler: str, environment: dict[str, str],
         cgroup_procs: list[str], unprivileged: bool = True) -> dict:
    """The mount table, user, argv and environment of one sandbox (pure).

    /usr and /etc are the userland built from one list (harness.runtime.userland), /var/lang the
    interpreter of the declared runtime's version (harness.runtime.interpreters); nothing of the host's.
    """
    if env.interpreter is None or env.userland is None:
        raise ValueError(f"runtime environment for {env.runtime} has no interpreter or userland")
    py = f"python{env.python}"
    user_home = f"/home/{awsruntime.SANDBOX_USER}"
    binds: list[tuple[str, str, bool]] = [
        (str(env.userland / "usr"), "/usr", True),
        (str(env.userland / "etc"), "/etc", True),
        (str(files["passwd"]), "/etc/passwd", True),
        (str(files["group"]), "/etc/group", True),
        (env.interpreter.prefix, awsruntime.LANG_DIR, True),
        (str(env.site_packages), f"{awsruntime.LANG_DIR}/lib/{py}/site-packages", True),
        (str(env.runtime_dir), awsruntime.RUNTIME_DIR, True),
        (str(Path(code_dir).resolve()), awsruntime.TASK_ROOT, True),
        (str(Path(opt_dir).resolve()) if opt_dir else str(files["empty"]), "/opt", True),
        (str(files["home"]), user_home, True),
    ]
    if env.locale_dir is not None:
        binds.append((str(env.locale_dir), "/usr/lib/locale", True))
    binds += [(d, d, False) for d in DEVICES if os.path.exists(d)]
    symlinks = dict(USR_LINKS)
    symlinks.update({"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
                     "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"})
    return {
        "root": str(files["root"]),
        "tmp": str(tmp_dir),
        "cwd": awsruntime.TASK_ROOT,
        "binds": binds,
        "symlinks": symlinks,
        "cgroups": list(cgroup_procs),
        "uid": awsruntime.SANDBOX_UID if unprivileged else None,
        "gid": awsruntime.SANDBOX_GID if unprivileged else None,
        "argv": [f"{awsruntime.LANG_DIR}/bin/{py}", f"{awsruntime.RUNTIME_DIR}/bootstrap.py", handler],
        "env": dict(environment),
        "rlimits": {"NOFILE": NOFILE},
    }


# Lambda's execution environment: "File descriptors: 1,024", "Execution processes/threads: 1,024"
# (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). nofile is a per-process rlimit;
# processes/threads are counted per instance by its pids cgroup (an rlimit would count per uid, and
# every instance here runs as the same sandbox user).
NOFILE = 1024
PIDS_MAX = 1024


# The memory drill's filler: join the instance's cgroups, refuse the OOM killer, allocate argv[1] bytes
# (touching every page), then wait to be killed with the instance.
_FILLER = """
import sys, time
for path in sys.argv[2:]:
    open(path, "w").write("%d" % __import__("os").getpid())
open("/proc/self/oom_score_adj", "w").write("-1000")
held, left = [], int(sys.argv[1])
while left > 0:
    held.append(b"x" * min(left, 4 << 20))
    left -= 4 << 20
time.sleep(600)
"""


def command(plan_path: Path) -> list[str]:
    """The host interpreter, isolated (-S -E), runs the init script; it needs only the stdlib."""
    return [sys.executable, "-S", "-E", str(INIT_SCRIPT), str(plan_path)]


def write_plan(inst_dir: Path, the_plan: dict) -> Path:
    path = inst_dir / "plan.json"
    path.write_text(json.dumps(the_plan))
    os.chmod(path, 0o600)
    return path


_CAPABILITY: Capability | None = None


def probe(work_dir: Path) -> Capability:
    """Start one throwaway sandbox to learn whether namespaces, mounts and cgroups work here (cached)."""
    global _CAPABILITY
    if _CAPABILITY is not None:
        return _CAPABILITY
    _CAPABILITY = _probe(Path(work_dir))
    return _CAPABILITY


def _probe(work_dir: Path) -> Capability:
    if os.geteuid() != 0:
        return Capability(False, None, "not root: no mount/PID namespaces or cgroups")
    cg_version = cgroups.version()
    if cg_version is None:
        return Capability(False, None, "no memory+cpu cgroup controllers mounted under /sys/fs/cgroup")
    work_dir.mkdir(parents=True, exist_ok=True)
    inst = Path(tempfile.mkdtemp(prefix="probe-", dir=work_dir))
    tmp = inst / "tmp"
    tmp.mkdir()
    cg = None
    mounted = False
    try:
        mounted = limits.mount_tmpfs(tmp, 1)
        if not mounted:
            return Capability(False, cg_version, "cannot mount a tmpfs")
        cg = cgroups.Cgroup.create(f"probe-{uuid.uuid4().hex[:8]}", 64)
        files = instance_files(inst, None)
        interp = interpreters.host()
        fake = awsruntime.RuntimeEnv(interp.runtime, interp.minor, files["empty"], files["empty"], {},
                                     interpreter=interp, userland=userland.ensure(interp.root, interp.prefix))
        p = plan(code_dir=files["empty"], opt_dir=None, tmp_dir=tmp, files=files, env=fake, handler="x",
                 environment={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "/var/lang/lib"},
                 cgroup_procs=cg.procs_files)
        p["argv"] = [f"{awsruntime.LANG_DIR}/bin/python{interp.minor}", "-S", "-c",
                     "import os; open('/tmp/w', 'w').write('x'); print(os.getuid(), os.getpid())"]
        proc = subprocess.run(command(write_plan(inst, p)), capture_output=True, text=True, timeout=30)
        expected = f"{awsruntime.SANDBOX_UID} 2"
        if proc.returncode != 0 or proc.stdout.strip() != expected:
            why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            return Capability(False, cg_version, f"sandbox probe failed: {why}")
        return Capability(True, cg_version)
    except (OSError, subprocess.SubprocessError, cgroups.CgroupError) as e:
        return Capability(False, cg_version, f"sandbox probe failed: {e}")
    finally:
        if cg is not None:
            cg.remove()
        if mounted:
            limits.unmount(tmp)
        shutil.rmtree(inst, ignore_errors=True)


@dataclass(frozen=True)
class Settings:
    """How the runtime isolates instances; one per LambdaRuntime."""

    capability: Capability
    endpoint_url: str | None = None
    cpu_scaling: bool = True


class Sandbox:
    """The host side of one instance's sandbox: its files, cgroup and init process."""

    def __init__(self, inst_dir: Path, *, memory_mb: int, settings: Settings) -> None:
        self.dir = inst_dir
        self.memory_mb = memory_mb
        self.settings = settings
        self.cgroup: cgroups.Cgroup | None = None
        self._oom_base = 0

    def spawn(self, *, code_dir: Path, opt_dir: Path | None, tmp_dir: Path, env: awsruntime.RuntimeEnv,
              handler: str, environment: dict[str, str]) -> subprocess.Popen[bytes]:
        """Create the cgroup, lay out the files and start the init; the caller reads stdout."""
        self.cgroup = cgroups.Cgroup.create(self.dir.name, self.memory_mb)
        self._oom_base = self.cgroup.oom_kills()
        try:
            self.cgroup.set_pids_max(PIDS_MAX)
        except cgroups.CgroupError as e:
            log.warning("process limit not applied: %s", e)
        if self.settings.cpu_scaling:
            self.cgroup.set_cpu(cgroups.init_vcpus_for(self.memory_mb))
        files = instance_files(self.dir, self.settings.endpoint_url)
        the_plan = plan(code_dir=code_dir, opt_dir=opt_dir, tmp_dir=tmp_dir, files=files, env=env,
                        handler=handler, environment=environment, cgroup_procs=self.cgroup.procs_files)
        return subprocess.Popen(
            command(write_plan(self.dir, the_plan)), cwd=str(self.dir),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env={"PATH": "/usr/bin:/bin"})

    def init_done(self) -> None:
        """Lambda's CPU share applies from the end of init (see cgroups.init_vcpus_for)."""
        if self.cgroup is not None and self.settings.cpu_scaling:
            try:
                self.cgroup.set_cpu(cgroups.vcpus_for(self.memory_mb))
            except cgroups.CgroupError as e:
                log.warning("CPU quota not applied: %s", e)

    def peak_bytes(self) -> int:
        return self.cgroup.peak_bytes() if self.cgroup is not None else 0

    def throttled_us(self) -> int:
        """The kernel's running total of time the CFS quota throttled this group."""
        return self.cgroup.cpu_throttled_us() if self.cgroup is not None else 0

    def oom_killed(self) -> bool:
        return self.cgroup is not None and self.cgroup.oom_kills() > self._oom_base

    def rebase_oom(self) -> None:
        """The kills seen so far are accounted for (a child's): only a new one counts from now on."""
        if self.cgroup is not None:
            self._oom_base = self.cgroup.oom_kills()

    def exhaust_memory(self, victim: int, timeout: float = 30.0) -> bool:
        """Fill this instance's memory cgroup until the kernel OOM-kills victim; True once it is gone.

        victim is made the OOM killer's first choice (oom_score_adj 1000); a filler process joins the
        group, unkillable by the OOM killer (-1000), and allocates past the limit. The kernel, not the
        harness, then kills the victim at the group's real MemorySize; the filler sleeps until the
        instance is killed with the rest of its group.
        """
        if self.cgroup is None:
            return False
        try:
            Path(f"/proc/{victim}/oom_score_adj").write_text("1000")
        except OSError as e:
            log.warning("exhaust_memory: oom_score_adj of %s not set: %s", victim, e)
            return False
        need = self.memory_mb * 1024 * 1024 - self.cgroup.usage_bytes() + 16 * 1024 * 1024
        # only the memory controller's group (cgroup v1): under the instance's CPU quota (7 % of a core at
        # 128 MB) the filler itself would take seconds to start; v2 has one group for everything
        groups = [p for p in self.cgroup.procs_files if "/memory/" in p] or self.cgroup.procs_files
        filler = subprocess.Popen([sys.executable, "-S", "-E", "-c", _FILLER, str(max(need, 16 << 20)),
                                   *groups], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if limits.wait_gone(victim, 0):
                return True
            if filler.poll() is not None:
                break
            time.sleep(0.01)
        return limits.wait_gone(victim, 0)

    def freeze(self) -> bool:
        """Freeze the instance between invocations, as AWS does; False where it could not."""
        if self.cgroup is None:
            return False
        try:
            return self.cgroup.freeze()
        except cgroups.CgroupError as e:
            log.warning("instance not frozen: %s", e)
            return False

    def thaw(self) -> None:
        if self.cgroup is not None:
            try:
                self.cgroup.thaw()
            except cgroups.CgroupError as e:
                log.warning("instance not thawed: %s", e)

    def kill(self) -> None:
        """SIGKILL whatever is left in the group (the PID namespace normally took it already)."""
        self.thaw()                 # a frozen task holds a SIGKILL pending until it is thawed
        if self.cgroup is not None:
            for pid in self.cgroup.pids():
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass

    def close(self) -> None:
        self.kill()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
