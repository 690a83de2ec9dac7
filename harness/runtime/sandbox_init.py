"""The first process of a Lambda sandbox: namespaces, mounts, cgroups, user, then the runtime.

Started by ``harness.runtime.sandbox`` as ``python -S -E sandbox_init.py <plan.json>``
with the host interpreter. It imports nothing but the standard library, so it
runs before, and apart from, any environment the function will see.

1. ``unshare(CLONE_NEWNS | CLONE_NEWPID)``, then fork: the child is PID 1 of a
   new PID namespace, so every process the function starts dies with it.
2. PID 1 makes the mount tree private, builds a new root on a small tmpfs out of
   read-only bind mounts (``/var/task`` the package, ``/opt`` the layers,
   ``/var/lang`` the interpreter, ``/var/runtime`` the runtime's own packages,
   ``/usr``, ``/etc``...), binds the sized ``/tmp`` tmpfs, mounts ``/proc``,
   remounts the root read-only and chroots into it.
3. It forks the runtime: the child joins the instance's cgroups, drops to the
   unprivileged sandbox user and execs the interpreter. PID 1 stays behind as a
   reaper, as Lambda's own init does, and exits with the runtime's status.
4. The outer process waits for PID 1 and mirrors its status, so the harness sees
   "killed by SIGKILL" exactly when the runtime was.

Any failure before the exec prints one line starting with ``sandbox:`` and
exits 121, so the harness can tell a broken sandbox from a crashing function.
"""
import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
SETUP_FAILED = 121

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    pass


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)} (errno {err})")


def mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                       data.encode() if data else None),
           f"mount {source or fstype} on {target}")


def bind(source, target, readonly=True):
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _mkpoint(path, is_file):
    if is_file:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            open(path, "a").close()
    else:
        os.makedirs(path, exist_ok=True)


def build_root(plan):
    root = plan["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    for link, target in plan.get("symlinks", {}).items():
        dest = root + link
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.symlink(target, dest)
    for src, dst, readonly in plan["binds"]:
        dest = root + dst
        _mkpoint(dest, os.path.isfile(src) or src.startswith("/dev/"))
        bind(src, dest, readonly)
    tmp = root + "/tmp"
    _mkpoint(tmp, False)
    bind(plan["tmp"], tmp, readonly=False)
    _mkpoint(root + "/proc", False)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV)
    mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chroot(root)
    os.chdir(plan["cwd"])


def exec_runtime(plan, cgroup_fds):
    for fd in cgroup_fds:
        os.write(fd, str(os.getpid()).encode())
    for name, value in (plan.get("rlimits") or {}).items():     # AWS's ulimits (nofile 1024)
        limit = getattr(resource, "RLIMIT_" + name)
        resource.setrlimit(limit, (value, value))
    uid, gid = plan["uid"], plan["gid"]
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    os.umask(0o022)
    os.execve(plan["argv"][0], plan["argv"], plan["env"])


def pid1(plan):
    """PID 1 of the namespace: set up, start the runtime, reap, mirror its status."""
    try:
        # the cgroup files live on the host side: open them before chroot hides them
        cgroup_fds = [os.open(p, os.O_WRONLY) for p in plan["cgroups"]]
        build_root(plan)
    except (SetupError, OSError) as e:
        print(f"sandbox: {e}", file=sys.stderr, flush=True)
        os._exit(SETUP_FAILED)
    child = os.fork()
    if child == 0:
        try:
            exec_runtime(plan, cgroup_fds)
        except (SetupError, OSError) as e:
            print(f"sandbox: cannot start the runtime: {e}", file=sys.stderr, flush=True)
        os._exit(SETUP_FAILED)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(SETUP_FAILED)
        if pid == child:
            os._exit(_encode(status))


def _encode(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main():
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    try:
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare(mount, pid)")
    except SetupError as e:
        print(f"sandbox: {e}", file=sys.stderr, flush=True)
        sys.exit(SETUP_FAILED)
    child = os.fork()
    if child == 0:
        pid1(plan)
    _, status = os.waitpid(child, 0)
    code = _encode(status)
    if 128 < code < 128 + 65 and code != SETUP_FAILED:
        sig = code - 128
        if sig not in (signal.SIGKILL, signal.SIGSTOP):     # those two cannot be caught, nor reset
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    sys.exit(code)


if __name__ == "__main__":
    main()
