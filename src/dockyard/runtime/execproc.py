"""An exec'd process: a helper forked from the shim joins the container's cgroup and namespaces, forks
(so the child lands in the container's pid namespace), and relays that child's exit status."""

from __future__ import annotations

import os
from typing import Any, NoReturn

from dockyard.runtime.cgroups import open_cgroup
from dockyard.runtime.console import open_console
from dockyard.runtime.init import (
    ContainerError,
    apply_rlimits,
    exec_process,
    report_failure,
    set_credentials,
)
from dockyard.runtime.userns import setns_all
from dockyard.util import linux as L

# Joined in this order; the mount namespace late, because joining it changes our root directory, and the
# user namespace last, because joining it drops our privileges over the others.
_NAMESPACES = (("ipc", L.CLONE_NEWIPC), ("uts", L.CLONE_NEWUTS), ("net", L.CLONE_NEWNET),
               ("pid", L.CLONE_NEWPID), ("cgroup", L.CLONE_NEWCGROUP), ("mnt", L.CLONE_NEWNS),
               ("user", L.CLONE_NEWUSER))


def _join_namespaces(init_pid: int) -> None:
    """setns into every namespace of the container init that differs from ours."""
    fds: list[tuple[int, int]] = []
    try:
        for name, flag in _NAMESPACES:
            theirs = f"/proc/{init_pid}/ns/{name}"
            if os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
                fds.append((os.open(theirs, os.O_RDONLY | os.O_CLOEXEC), flag))
        setns_all(fds)
    finally:
        for fd, _ in fds:
            os.close(fd)


def _child(process: dict[str, Any], stdio: tuple[int, ...], err_fd: int, console: int | None) -> NoReturn:
    """The process itself, inside the pid namespace: session, stdio or a terminal of the container's devpts,
    credentials, exec."""
    code = 125
    try:
        os.setsid()
        if console is not None:
            open_console(console, process.get("user", {}).get("uid", 0), mount_console=False)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        apply_rlimits(process.get("rlimits", []))
        set_credentials(process)
        exec_process(process)
    except ContainerError as exc:
        code = exc.exit_code
        report_failure(err_fd, exc.message, code)
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the shim before exiting
        report_failure(err_fd, str(exc), 125)
    finally:
        os._exit(code)


def exec_main(init_pid: int, cgroups_path: str, process: dict[str, Any], stdio: tuple[int, ...],
              err_fd: int, ack_fd: int, console: int | None = None) -> NoReturn:
    """Run in a child of the shim: enter the container and start the process; once `ack_fd` reads EOF
    (the shim has seen the process) reap it and exit with its exit code (128+signal when killed).
    Failures go to `err_fd` as JSON."""
    code = 125
    try:
        L.close_fds_except({*stdio, err_fd, ack_fd} | ({console} if console is not None else set()))
        if cgroups_path:
            open_cgroup(cgroups_path).add(os.getpid())
        _join_namespaces(init_pid)
        pid = os.fork()
        if pid == 0:
            _child(process, stdio, err_fd, console)
        for fd in {*stdio, err_fd} | ({console} if console is not None else set()):
            os.close(fd)
        os.read(ack_fd, 1)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
    except Exception as exc:  # noqa: BLE001 - report, then exit with docker's 125
        report_failure(err_fd, f"exec failed: {exc}", 125)
    finally:
        os._exit(code)
