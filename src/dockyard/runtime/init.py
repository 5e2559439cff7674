"""Container-side setup between fork and exec: namespaces, rootfs, mounts, pivot_root, credentials, execve."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
from typing import Any, NoReturn

from dockyard.oci.spec import ALL_CAPABILITIES
from dockyard.runtime import mountapi as M
from dockyard.runtime.cgroups import DEFAULT_ROOT, V1_CONTROLLERS, is_cgroup2
from dockyard.runtime.console import open_console
from dockyard.runtime.seccomp import SeccompFilter
from dockyard.runtime.userns import (
    PreparedMounts,
    host_root_ids,
    idmapped_overlay,
    join_user_namespace,
    mount_attrs,
)
from dockyard.util import linux as L

_FLAG_OPTIONS: dict[str, tuple[bool, int]] = {
    "ro": (True, L.MS_RDONLY), "rw": (False, L.MS_RDONLY), "nosuid": (True, L.MS_NOSUID),
    "suid": (False, L.MS_NOSUID), "nodev": (True, L.MS_NODEV), "dev": (False, L.MS_NODEV),
    "noexec": (True, L.MS_NOEXEC), "exec": (False, L.MS_NOEXEC), "sync": (True, L.MS_SYNCHRONOUS),
    "async": (False, L.MS_SYNCHRONOUS), "dirsync": (True, L.MS_DIRSYNC), "mand": (True, L.MS_MANDLOCK),
    "nomand": (False, L.MS_MANDLOCK), "noatime": (True, L.MS_NOATIME), "atime": (False, L.MS_NOATIME),
    "nodiratime": (True, L.MS_NODIRATIME), "diratime": (False, L.MS_NODIRATIME),
    "relatime": (True, L.MS_RELATIME), "norelatime": (False, L.MS_RELATIME),
    "strictatime": (True, L.MS_STRICTATIME), "nostrictatime": (False, L.MS_STRICTATIME),
    "bind": (True, L.MS_BIND), "rbind": (True, L.MS_BIND | L.MS_REC), "nosymfollow": (True, L.MS_NOSYMFOLLOW),
}
_PROPAGATION = {
    "private": L.MS_PRIVATE, "rprivate": L.MS_PRIVATE | L.MS_REC, "slave": L.MS_SLAVE,
    "rslave": L.MS_SLAVE | L.MS_REC, "shared": L.MS_SHARED, "rshared": L.MS_SHARED | L.MS_REC,
    "unbindable": L.MS_UNBINDABLE, "runbindable": L.MS_UNBINDABLE | L.MS_REC,
}
# statvfs f_flag bits share their values with the MS_* flags they report.
_KEEP_ON_REMOUNT = L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC | L.MS_NOATIME | L.MS_NODIRATIME | L.MS_RELATIME
_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
_DEV_LINKS = (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
              ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"))
_CAP_NUMBERS = {name: i for i, name in enumerate(ALL_CAPABILITIES)}
_RLIM_MAX = (1 << 63) - 1


class ContainerError(Exception):
    """A setup or exec failure with Docker's message and the exit code `docker run` reports for it."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = classify_exit_code(message) if exit_code is None else exit_code


def classify_exit_code(message: str) -> int:
    """Docker's mapping of a start error to an exit code: 127 not found, 126 not executable, else 125."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def _strerror(err: OSError) -> str:
    """Go-style lower-case error text."""
    text = os.strerror(err.errno) if err.errno else str(err)
    return text[:1].lower() + text[1:]


def parse_mount_options(options: list[str]) -> tuple[int, int, str]:
    """Split OCI mount options into (mount flags, propagation flags, data string)."""
    flags = propagation = 0
    data: list[str] = []
    for opt in options:
        if opt in _FLAG_OPTIONS:
            on, bit = _FLAG_OPTIONS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in _PROPAGATION:
            propagation = _PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, propagation, ",".join(data)


def secure_join(root: str, path: str) -> str:
    """Resolve `path` inside `root`, following symlinks as if `root` were "/" so nothing escapes it."""
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 255:
                raise ContainerError(f"too many symlinks resolving {path}", 125)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _remount_ro(target: str, recursive: bool = False) -> None:
    """Make a bind mount read-only, keeping its nosuid/nodev/noexec flags."""
    keep = os.statvfs(target).f_flag & _KEEP_ON_REMOUNT
    rec = L.MS_REC if recursive else 0
    L.mount(None, target, None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | keep | rec)


def _make_target(dest: str, source_is_file: bool) -> None:
    """Create a mount point: an empty file for a file bind, else a directory."""
    if source_is_file:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if not os.path.exists(dest):
            with open(dest, "a"):
                pass
    else:
        os.makedirs(dest, exist_ok=True)


def check_mount_destination(destination: str, dest: str, rootfs: str) -> None:
    """Refuse a resolved destination that symlinks turned into the root itself or redirected into /proc."""
    rel = os.path.relpath(dest, rootfs)
    inside = "/" if rel == "." else "/" + rel
    literal = os.path.normpath("/" + destination.lstrip("/"))
    if inside == "/":
        raise ContainerError(f"mount destination {destination} resolves to the container's root", 125)
    for reserved in ("/proc", "/sys"):
        if (inside + "/").startswith(reserved + "/") and not (literal + "/").startswith(reserved + "/"):
            raise ContainerError(f"mount destination {destination} is redirected into {reserved}", 125)


def _mount_flags(m: dict[str, Any]) -> tuple[int, int, str]:
    """(flags, propagation, data) of an OCI mount entry; type "bind" implies MS_BIND."""
    flags, propagation, data = parse_mount_options(list(m.get("options", [])))
    return flags | (L.MS_BIND if m.get("type") == "bind" else 0), propagation, data


def _mount_one(m: dict[str, Any], rootfs: str, cgroups_path: str, premade: int | None = None) -> None:
    """Mount one OCI mount entry under rootfs; `premade` is a detached mount prepared with host privileges."""
    dest = secure_join(rootfs, m["destination"])
    check_mount_destination(m["destination"], dest, rootfs)
    flags, propagation, data = _mount_flags(m)
    mtype = m.get("type", "")
    if mtype == "cgroup":
        _mount_cgroup(dest, flags, cgroups_path)
    elif flags & L.MS_BIND:
        source = m["source"]
        is_dir = stat.S_ISDIR(os.fstat(premade).st_mode) if premade is not None else os.path.isdir(source)
        _make_target(dest, not is_dir)
        if premade is None:
            L.mount(source, dest, None, flags & (L.MS_BIND | L.MS_REC))
        else:
            M.attach(premade, dest)
        extra = flags & ~(L.MS_BIND | L.MS_REC)
        if extra:
            keep = os.statvfs(dest).f_flag & _KEEP_ON_REMOUNT if premade is not None else 0
            L.mount(None, dest, None, L.MS_BIND | L.MS_REMOUNT | extra | keep)
    elif premade is not None:
        _make_target(dest, False)
        M.attach(premade, dest)
    else:
        _make_target(dest, False)
        L.mount(m.get("source") or mtype, dest, mtype, flags, data or None)
    if propagation:
        L.mount(None, dest, None, propagation)


def _mount_cgroup(dest: str, flags: int, cgroups_path: str) -> None:
    """/sys/fs/cgroup: cgroup2 as is on v2 hosts; on v1 a tmpfs holding binds of the container's own cgroups."""
    os.makedirs(dest, exist_ok=True)
    if is_cgroup2(DEFAULT_ROOT):
        L.mount("cgroup2", dest, "cgroup2", flags)
        return
    L.mount("tmpfs", dest, "tmpfs", flags & ~L.MS_RDONLY, "mode=755")
    for ctrl in V1_CONTROLLERS:
        host = DEFAULT_ROOT / ctrl / cgroups_path.strip("/")
        if not host.is_dir():
            continue
        target = os.path.join(dest, ctrl)
        os.makedirs(target)
        L.mount(str(host), target, None, L.MS_BIND)
        if flags & L.MS_RDONLY:
            _remount_ro(target)
    if flags & L.MS_RDONLY:
        L.mount(None, dest, None, L.MS_REMOUNT | flags)


def _populate_dev(rootfs: str) -> None:
    """Create the standard device nodes (mknod, or a bind from the host) and /dev symlinks."""
    dev = os.path.join(rootfs, "dev")
    for name, major, minor in _DEVICES:
        path = os.path.join(dev, name)
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
            os.chmod(path, 0o666)
        except PermissionError:
            _make_target(path, True)
            L.mount(f"/dev/{name}", path, None, L.MS_BIND)
    links = list(_DEV_LINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "core"))
    for target, name in links:
        os.symlink(target, os.path.join(dev, name))


def create_devices(rootfs: str, devices: list[dict[str, Any]]) -> None:
    """Create linux.devices nodes (--device, --privileged): mknod, or a bind of the host node when refused."""
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    for dev in devices:
        parent = secure_join(rootfs, os.path.dirname(dev["path"]))
        path = os.path.join(parent, os.path.basename(dev["path"]))  # replace a final symlink (/dev/ptmx)
        os.makedirs(parent, exist_ok=True)
        if os.path.lexists(path):
            os.unlink(path)
        mode = dev.get("fileMode", 0o666) & 0o7777
        try:
            os.mknod(path, kinds[dev["type"]] | mode, os.makedev(dev.get("major", 0), dev.get("minor", 0)))
        except PermissionError:
            _make_target(path, True)
            L.mount(dev.get("hostPath", dev["path"]), path, None, L.MS_BIND)
            continue
        os.chmod(path, mode)
        os.chown(path, dev.get("uid", 0), dev.get("gid", 0))


def _setup_rootfs(spec: dict[str, Any], rootfs: str, prepared: PreparedMounts | None) -> None:
    """Make / rprivate (or what linux.rootfsPropagation asks), bind the rootfs onto itself (or attach the prepared
    one over the current directory, which is the rootfs), mount everything, then pivot_root into it."""
    propagation = spec.get("linux", {}).get("rootfsPropagation", "")
    if propagation and propagation not in _PROPAGATION:
        raise ContainerError(f"invalid rootfsPropagation: {propagation}", 125)
    L.mount(None, "/", None, _PROPAGATION[propagation] if propagation else L.MS_REC | L.MS_PRIVATE)
    if prepared is None:
        if propagation:
            _make_parent_mount_private(rootfs)
        L.mount(rootfs, rootfs, None, L.MS_BIND | L.MS_REC)
    else:
        M.attach(prepared.rootfs, ".")
        os.fchdir(prepared.rootfs)
        rootfs = "."  # the host path may not be searchable by the container's root
    cgroups_path = spec.get("linux", {}).get("cgroupsPath", "")
    mounts = spec.get("mounts", [])
    for i, m in enumerate(mounts):
        _mount_one(m, rootfs, cgroups_path, prepared.mounts.get(i) if prepared else None)
    if any(m["destination"].rstrip("/") == "/dev" and m.get("type") == "tmpfs" for m in mounts):
        _populate_dev(rootfs)
    create_devices(rootfs, spec.get("linux", {}).get("devices", []))
    os.chdir(rootfs)
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        L.pivot_root(".", ".")
        # as runc: "." must be the old root (stacked over the new one), not the new root the working directory
        # still names, or making it rslave would turn the container's shared mounts (rshared binds, a plugin's
        # propagated mount) into slaves
        os.fchdir(old_root)
    finally:
        os.close(old_root)
    L.mount(None, ".", None, L.MS_SLAVE | L.MS_REC)
    L.umount2(".", L.MNT_DETACH)
    os.chdir("/")


def _make_parent_mount_private(rootfs: str) -> None:
    """runc's rootfsParentMountPrivate: with / shared (a plugin's propagated mount keeps its peers on the host),
    the mount holding the rootfs is made private so that what is mounted inside the container stays there."""
    path = os.path.realpath(rootfs)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
        points = [line.split()[4].replace("\\040", " ") for line in table]
    parent = max((p for p in points if path == p or path.startswith(p.rstrip("/") + "/")), key=len)
    L.mount(None, parent, None, L.MS_PRIVATE)


def write_sysctls(sysctls: dict[str, str]) -> None:
    """Write sysctl values under /proc/sys."""
    for key, value in sysctls.items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)


def _harden_paths(linux: dict[str, Any], written: set[str]) -> None:
    """Apply the sysctls not `written` yet, then mask paths and make others read-only (after pivot_root)."""
    write_sysctls({k: v for k, v in linux.get("sysctl", {}).items() if k not in written})
    for path in linux.get("maskedPaths", []):
        if os.path.isdir(path):
            L.mount("tmpfs", path, "tmpfs", L.MS_RDONLY)
        elif os.path.exists(path):
            L.mount("/dev/null", path, None, L.MS_BIND)
    for path in linux.get("readonlyPaths", []):
        if os.path.exists(path):
            L.mount(path, path, None, L.MS_BIND | L.MS_REC)
            _remount_ro(path, recursive=True)


def _prepare_host_mounts(spec: dict[str, Any], rootfs: str, user_fd: int, joined_net: bool) -> PreparedMounts:
    """While still host root: the idmapped rootfs, detached copies of bind sources (their paths may not be
    searchable by the container's root), proc of our pid namespace and sysfs of a joined network namespace
    (both owned by the host's user namespace, so the container's root could not mount them)."""
    prepared = PreparedMounts(idmapped_overlay(rootfs, user_fd, host_root_ids(spec)))
    for i, m in enumerate(spec.get("mounts", [])):
        flags, mtype = _mount_flags(m)[0], m.get("type")
        if mtype != "cgroup" and flags & L.MS_BIND:
            prepared.mounts[i] = M.clone_tree(m["source"], recursive=bool(flags & L.MS_REC))
        elif mtype == "proc" or (mtype == "sysfs" and joined_net):
            prepared.mounts[i] = M.new_mount(mtype, {}, mount_attrs(flags))
    return prepared


def _enter_namespaces(spec: dict[str, Any], rootfs: str,
                      user_fd: int | None) -> tuple[PreparedMounts | None, set[str]]:
    """Join namespaces given by path; with a user namespace, prepare host-side mounts, write the sysctls of a
    joined network namespace and join it; then create the other namespaces (pid: the shim's business).
    Returns the prepared mounts and the sysctls already written."""
    flags = 0
    joined_net = False
    for ns in spec.get("linux", {}).get("namespaces", []):
        if ns["type"] in ("pid", "user"):
            continue
        if ns.get("path"):
            fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                L.setns(fd, L.NAMESPACE_FLAGS[ns["type"]])
            finally:
                os.close(fd)
            joined_net = joined_net or ns["type"] == "network"
        else:
            flags |= L.NAMESPACE_FLAGS[ns["type"]]
    prepared, written = None, set()
    if user_fd is not None:
        prepared = _prepare_host_mounts(spec, rootfs, user_fd, joined_net)
        if joined_net:
            early = {k: v for k, v in spec.get("linux", {}).get("sysctl", {}).items() if k.startswith("net.")}
            write_sysctls(early)
            written = set(early)
        os.chdir(rootfs)  # unshare(CLONE_NEWNS) carries the working directory into the new namespace
        join_user_namespace(user_fd)
    L.unshare(flags)
    if flags & L.CLONE_NEWNET:
        L.link_up("lo")
    return prepared, written


def apply_rlimits(rlimits: list[dict[str, Any]]) -> None:
    """setrlimit for each entry, clamped to the hard limits this host allows."""
    for rl in rlimits:
        kind = getattr(resource, rl["type"])
        host_hard = resource.getrlimit(kind)[1]
        hard = resource.RLIM_INFINITY if rl["hard"] >= _RLIM_MAX else rl["hard"]
        soft = resource.RLIM_INFINITY if rl["soft"] >= _RLIM_MAX else rl["soft"]
        if host_hard != resource.RLIM_INFINITY:
            hard = host_hard if hard == resource.RLIM_INFINITY else min(hard, host_hard)
            soft = hard if soft == resource.RLIM_INFINITY else min(soft, hard)
        resource.setrlimit(kind, (soft, hard))


def _cap_mask(names: list[str]) -> int:
    """Bit mask of capability names; an unknown name is an error."""
    mask = 0
    for name in names:
        if name not in _CAP_NUMBERS:
            raise ContainerError(f"unknown capability {name!r}", 125)
        mask |= 1 << _CAP_NUMBERS[name]
    return mask


def set_credentials(process: dict[str, Any]) -> None:
    """Drop the bounding set, switch user and groups, then set the remaining capability sets."""
    caps = process.get("capabilities", {})
    bounding = _cap_mask(caps.get("bounding", []))
    for cap in range(L.last_cap() + 1):
        if not bounding & (1 << cap) and L.prctl(L.PR_CAPBSET_READ, cap):
            L.prctl(L.PR_CAPBSET_DROP, cap)
    user = process.get("user", {})
    L.prctl(L.PR_SET_KEEPCAPS, 1)
    os.setgroups(list(user.get("additionalGids", [])))
    os.setgid(user.get("gid", 0))
    os.setuid(user.get("uid", 0))
    L.prctl(L.PR_SET_KEEPCAPS, 0)
    permitted = L.capget()[1]
    L.capset(_cap_mask(caps.get("effective", [])) & permitted, _cap_mask(caps.get("permitted", [])) & permitted,
             _cap_mask(caps.get("inheritable", [])) & permitted)
    L.prctl(L.PR_CAP_AMBIENT, L.PR_CAP_AMBIENT_CLEAR_ALL)
    for name in caps.get("ambient", []):
        L.prctl(L.PR_CAP_AMBIENT, L.PR_CAP_AMBIENT_RAISE, _CAP_NUMBERS[name])
    if process.get("noNewPrivileges"):
        L.prctl(L.PR_SET_NO_NEW_PRIVS, 1)


def _executable_error(path: str) -> str | None:
    """Why `path` cannot be executed, Go's exec.LookPath style, or None when it can."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"stat {path}: {_strerror(exc)}"
    if stat.S_ISDIR(st.st_mode) or not os.access(path, os.X_OK):
        return "permission denied"
    return None


def look_path(name: str, env: dict[str, str]) -> str:
    """Find the program like Go's exec.LookPath with the container's PATH; raise Docker's errors."""
    if "/" in name:
        err = _executable_error(name)
        if err:
            raise ContainerError(f'exec: "{name}": {err}')
        return name
    for directory in env.get("PATH", "").split(":"):
        candidate = os.path.join(directory or ".", name)
        if _executable_error(candidate) is None:
            return candidate
    raise ContainerError(f'exec: "{name}": executable file not found in $PATH')


def exec_process(process: dict[str, Any]) -> NoReturn:
    """chdir into cwd and execve the process with its own environment."""
    cwd = process.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise ContainerError(f'chdir to cwd ("{cwd}") set in config.json failed: {_strerror(exc)}', 125) from exc
    env = dict(item.split("=", 1) for item in process.get("env", []) if "=" in item)
    args = process["args"]
    if not args:
        raise ContainerError("no command specified", 125)
    path = look_path(args[0], env)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)
    try:
        os.execve(path, args, env)
    except OSError as exc:
        raise ContainerError(f'exec: "{args[0]}": {_strerror(exc)}') from exc


def container_main(spec: dict[str, Any], rootfs: str, stdio: tuple[int, ...], err_fd: int,
                   go_fd: int, user_fd: int | None = None, console: int | None = None) -> NoReturn:
    """Run in the forked child: wait for the shim's go, set everything up and exec; report failure on err_fd.
    `user_fd` is the user namespace the shim created when the spec asks for one; with `console` (a socket
    to the shim) the process gets a terminal from the container's devpts instead of `stdio`."""
    code = 125
    try:
        if os.read(go_fd, 1) != b"1":
            raise ContainerError("start aborted by the shim", 125)
        os.close(go_fd)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        os.setsid()
        if spec["process"].get("terminal") and console is None:
            L.set_controlling_tty(0)
        linux = spec.get("linux", {})
        nnp_spec = bool(spec["process"].get("noNewPrivileges"))
        seccomp = SeccompFilter(linux["seccomp"], nnp_spec) if linux.get("seccomp") else None
        prepared, written = _enter_namespaces(spec, rootfs, user_fd)
        _setup_rootfs(spec, rootfs, prepared)
        _harden_paths(linux, written)
        if console is not None:
            open_console(console, spec["process"].get("user", {}).get("uid", 0), mount_console=True)
        if spec.get("root", {}).get("readonly"):
            _remount_ro("/")
        if spec.get("hostname"):
            L.sethostname(spec["hostname"])
        process = spec["process"]
        apply_rlimits(process.get("rlimits", []))
        os.umask(0o022)
        os.makedirs(process.get("cwd") or "/", mode=0o755, exist_ok=True)
        if "oomScoreAdj" in process:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(process["oomScoreAdj"]))
        if seccomp and not nnp_spec:
            seccomp.load()  # while still holding CAP_SYS_ADMIN, as runc does
        set_credentials(process)
        if seccomp and nnp_spec:
            seccomp.load()  # last, so the filter need not allow the setup syscalls
        exec_process(process)
    except ContainerError as exc:
        code = exc.exit_code
        report_failure(err_fd, exc.message, code)
    except Exception as exc:  # noqa: BLE001 - the child must report every failure to the shim, then exit
        report_failure(err_fd, str(exc), 125)
    finally:
        os._exit(code)


def report_failure(err_fd: int, message: str, exit_code: int) -> None:
    """Send a setup failure to the shim as one JSON object."""
    os.write(err_fd, json.dumps({"message": message, "exit_code": exit_code}).encode())
