"""Run a command inside a running container by joining its namespaces and cgroup (healthcheck probes).

The daemon starts `python -I -S -c BOOT <src> <bundle> <pid> <argv...>` (run_probe): the helper joins the
container's cgroup, setns()es into /proc/<pid>/ns/{ipc,uts,net,pid,mnt}, forks so the child lands in
the pid namespace, and the child takes the container process's user, capabilities, environment and
cwd from config.json before exec. Output is stdout and stderr together; the exit code is the command's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from dockyard.runtime import bundle as B
from dockyard.runtime.cgroups import open_cgroup
from dockyard.runtime.init import ContainerError, exec_process, set_credentials
from dockyard.runtime.userns import setns_all
from dockyard.util import linux as L
from dockyard.util.aio import wait_within

_SRC_DIR = str(Path(__file__).resolve().parents[2])
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from dockyard.runtime.probe import main; main(sys.argv[2:])"
# mnt last: once in the container's mount namespace, host paths are out of reach
_NAMESPACES = (("ipc", L.CLONE_NEWIPC), ("uts", L.CLONE_NEWUTS), ("net", L.CLONE_NEWNET),
               ("pid", L.CLONE_NEWPID), ("mnt", L.CLONE_NEWNS), ("user", L.CLONE_NEWUSER))


async def run_probe(bundle: Path, pid: int, argv: list[str], timeout: float, limit: int = 4096) -> tuple[int, str]:
    """Run argv in the container whose init has host pid `pid`; (exit code, first `limit` bytes of output).

    Raises asyncio.TimeoutError (after killing the helper; the command dies with it) when it runs too long.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", "-c", _BOOT, _SRC_DIR, str(bundle), str(pid), *argv,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    stdout = proc.stdout
    assert stdout is not None
    output = bytearray()

    async def collect() -> int:
        while chunk := await stdout.read(65536):
            output.extend(chunk[: max(0, limit - len(output))])
        return await proc.wait()

    try:
        code = await wait_within(collect(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return code if code >= 0 else 128 - code, output.decode(errors="replace")


def _namespace_fds(pid: int) -> list[tuple[int, int]]:
    """Open the container's namespaces that differ from ours (setns into one's own is pointless)."""
    fds = []
    for name, flag in _NAMESPACES:
        theirs = f"/proc/{pid}/ns/{name}"
        if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
            continue
        fds.append((os.open(theirs, os.O_RDONLY | os.O_CLOEXEC), flag))
    return fds


def main(argv: list[str]) -> None:
    """Helper side: `<bundle> <pid> <command...>`; exits with the command's status."""
    bundle, pid, command = Path(argv[0]), int(argv[1]), argv[2:]
    spec = json.loads((bundle / B.CONFIG).read_text())
    cgroups_path = spec.get("linux", {}).get("cgroupsPath", "")
    if cgroups_path:
        open_cgroup(cgroups_path).add(os.getpid())
    fds = _namespace_fds(pid)
    setns_all(fds)
    for fd, _ in fds:
        os.close(fd)
    child = os.fork()
    if child == 0:
        code = 126
        try:
            os.chdir("/")
            process = dict(spec["process"], args=command)
            set_credentials(process)
            exec_process(process)
        except ContainerError as exc:
            code = exc.exit_code
            os.write(2, f"OCI runtime exec failed: exec failed: {exc.message}: unknown\n".encode())
        except OSError as exc:
            os.write(2, f"OCI runtime exec failed: exec failed: {exc}: unknown\n".encode())
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(128 - code if code < 0 else code)
