"""Resource limits of a function instance: memory, ephemeral storage, process-tree kill.

AWS enforces these with a cgroup and a sized /tmp; locally we poll the process
tree with psutil and, when we can, give each instance a real size-limited tmpfs
so the function sees ENOSPC exactly as on AWS.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

MB = 1024 * 1024


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (those still alive)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss_bytes(pid: int) -> int:
    """Current resident memory of the whole tree, like the sandbox cgroup would count it."""
    total = 0
    for p in tree(pid):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def peak_rss_bytes(pid: int) -> int:
    """Peak RSS (VmHWM) of one process: catches allocations made between two polls."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def kill_tree(pid: int) -> None:
    """SIGKILL the process, its process group and every descendant (e.g. ffmpeg)."""
    procs = tree(pid)
    try:
        os.killpg(pid, signal.SIGKILL)  # instance runs in its own session/group
    except OSError:
        pass
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def dir_usage_bytes(path: Path, *, tmpfs: bool) -> int:
    """Bytes used under the instance's /tmp stand-in."""
    if tmpfs:
        try:
            st = os.statvfs(path)
            return (st.f_blocks - st.f_bfree) * st.f_frsize
        except OSError:
            return 0
    total = 0
    stack = [str(path)]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        elif e.is_file(follow_symlinks=False):
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        pass
        except OSError:
            pass
    return total


def mount_tmpfs(path: Path, size_mb: int) -> bool:
    """Mount a size-limited tmpfs on path; False when not permitted here."""
    try:
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={int(size_mb)}m,mode=1777", "tmpfs", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as e:
        log.debug("tmpfs mount failed: %s", e)
        return False
    if r.returncode != 0:
        log.debug("tmpfs mount failed: %s", r.stderr.decode(errors="replace").strip())
        return False
    return True


def mount_ext4(path: Path, size_mb: int, image: Path) -> bool:
    """A loop-mounted ext4 of size_mb on path, backed by a sparse image file; False when not permitted here.

    Lambda's /tmp is a disk, not memory: its pages are page cache the kernel writes back and reclaims under
    the memory limit, where a tmpfs's pages are pinned and charged like anonymous memory. No journal and a
    small inode table keep mkfs at a few milliseconds; -m 0 gives the function every block.
    """
    try:
        with open(image, "wb") as f:
            f.truncate(int(size_mb) * MB)
        for cmd in (["mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-N", "4096", "-m", "0",
                     "-E", "lazy_itable_init=1,nodiscard", str(image)],
                    ["mount", "-o", "loop,nosuid,nodev,noatime", str(image), str(path)]):
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
            if r.returncode != 0:
                log.debug("ext4 /tmp failed: %s: %s", cmd[0], r.stderr.decode(errors="replace").strip())
                image.unlink(missing_ok=True)
                return False
    except (OSError, subprocess.SubprocessError) as e:
        log.debug("ext4 /tmp failed: %s", e)
        image.unlink(missing_ok=True)
        return False
    os.chmod(path, 0o1777)
    try:
        (path / "lost+found").rmdir()      # AWS's /tmp starts empty
    except OSError:
        pass
    return True


def unmount(path: Path) -> None:
    """Lazy unmount so a lingering handle never makes close() fail or hang."""
    try:
        subprocess.run(["umount", "-l", str(path)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
    except (OSError, subprocess.SubprocessError):
        pass


def probe_storage_mode(work_dir: Path, prefer: str = "auto") -> str:
    """'ext4' when a loop-mounted ext4 works here, else 'tmpfs' when a sized tmpfs does, else 'poll'."""
    probe = work_dir / ".storage-probe"
    probe.mkdir(parents=True, exist_ok=True)
    mode = "poll"
    try:
        if prefer in ("auto", "ext4") and shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin:/bin") \
                and mount_ext4(probe, 2, work_dir / ".storage-probe.img"):
            mode = "ext4"
        elif mount_tmpfs(probe, 1):
            mode = "tmpfs"
        if mode != "poll":
            unmount(probe)
    finally:
        (work_dir / ".storage-probe.img").unlink(missing_ok=True)
        try:
            probe.rmdir()
        except OSError:
            pass
    return mode


def socket_owner(pids: list[int], local: tuple[str, int], remote_port: int) -> int | None:
    """Which of pids holds the TCP socket local -> *:remote_port (the client end of a request)."""
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            continue
        for c in conns:
            if c.laddr and c.raddr and (c.laddr.ip, c.laddr.port) == tuple(local) and c.raddr.port == remote_port:
                return pid
    return None


def wait_gone(pid: int, timeout: float) -> bool:
    """True once pid has exited (a zombie counts as gone), within timeout."""
    try:
        proc = psutil.Process(pid)
        proc.wait(timeout=timeout)
        return True
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
