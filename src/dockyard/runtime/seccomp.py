"""Seccomp: docker profiles compiled to OCI linux.seccomp, and OCI linux.seccomp loaded with libseccomp (ctypes)."""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import platform
from pathlib import Path
from typing import Any, Iterable

DEFAULT_PROFILE_PATH = Path(__file__).with_name("seccomp-default.json")

# Docker profile arch names (Go's GOARCH) for the seccomp arch names of a profile's archMap.
_GO_ARCH = {"SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32",
            "SCMP_ARCH_AARCH64": "arm64", "SCMP_ARCH_ARM": "arm"}
_NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}

_ARCH_TOKENS = {"SCMP_ARCH_X86_64": 0xC000003E, "SCMP_ARCH_X86": 0x40000003, "SCMP_ARCH_X32": 0x4000003E,
                "SCMP_ARCH_AARCH64": 0xC00000B7, "SCMP_ARCH_ARM": 0x40000028}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_SCMP_FLTATR_CTL_NNP = 3
_NR_SCMP_ERROR = -1


class SeccompError(Exception):
    """A profile that cannot be compiled or a filter that libseccomp refuses."""


def load_profile(text: str | None = None) -> dict[str, Any]:
    """Parse a docker seccomp profile (the default one when `text` is None)."""
    raw = DEFAULT_PROFILE_PATH.read_text() if text is None else text
    try:
        profile = json.loads(raw)
    except ValueError as exc:
        raise SeccompError(f"decoding seccomp profile failed: {exc}") from exc
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise SeccompError("decoding seccomp profile failed: no defaultAction")
    return profile


def _kernel_at_least(version: str) -> bool:
    """Whether the running kernel is at least `version` ("4.8")."""
    have = [int(p) for p in platform.release().split("-")[0].split(".")[:2]]
    want = [int(p) for p in version.split(".")[:2]]
    return have >= want


def _native_arches(profile: dict[str, Any]) -> list[str]:
    """The native seccomp arch and its sub-architectures from the profile's archMap."""
    native = _NATIVE.get(platform.machine())
    if native is None:
        raise SeccompError(f"unsupported machine {platform.machine()}")
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            return [native, *(entry.get("subArchitectures") or [])]
    return list(profile.get("architectures") or [native])


def _applies(rule: dict[str, Any], caps: set[str], arches: set[str]) -> bool:
    """Evaluate a profile rule's includes/excludes against the container's capabilities and arches."""
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if inc.get("arches") and not set(inc["arches"]) & arches:
        return False
    if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]):
        return False
    if exc.get("caps") and set(exc["caps"]) & caps:
        return False
    if exc.get("arches") and set(exc["arches"]) & arches:
        return False
    return True


def compile_profile(profile: dict[str, Any], capabilities: Iterable[str]) -> dict[str, Any]:
    """Docker's profile -> OCI linux.seccomp for this machine and these capabilities (as dockerd does)."""
    arches = _native_arches(profile)
    go_arches = {_GO_ARCH.get(a, a) for a in arches}
    caps = set(capabilities)
    syscalls = []
    for rule in profile.get("syscalls") or []:
        if not _applies(rule, caps, go_arches):
            continue
        names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
        entry: dict[str, Any] = {"names": names, "action": rule["action"], "args": list(rule.get("args") or [])}
        if rule.get("errnoRet") is not None:
            entry["errnoRet"] = rule["errnoRet"]
        syscalls.append(entry)
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"], "architectures": arches,
                           "syscalls": syscalls}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return out


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def preload() -> None:
    """Load libseccomp now if it is installed, so forked shims inherit it (missing: reported at use)."""
    try:
        _libseccomp()
    except SeccompError:
        return


@functools.lru_cache(maxsize=1)
def _libseccomp() -> ctypes.CDLL:
    """Load libseccomp.so.2 and declare the functions used (once per process: the zygote preloads it)."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as exc:
        raise SeccompError(f"libseccomp is not installed: {exc}") from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    return lib


def action_code(action: str, errno_ret: int | None) -> int:
    """libseccomp's 32-bit action value for an OCI action name."""
    if action == "SCMP_ACT_ERRNO":
        return 0x00050000 | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if action == "SCMP_ACT_TRACE":
        return 0x7FF00000 | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    codes = {"SCMP_ACT_KILL": 0, "SCMP_ACT_KILL_THREAD": 0, "SCMP_ACT_KILL_PROCESS": 0x80000000,
             "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000}
    if action not in codes:
        raise SeccompError(f"unsupported seccomp action {action}")
    return codes[action]


def _arg_groups(args: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Conditions on distinct arguments go in one rule (AND); repeated indexes become one rule each (OR, as runc)."""
    indexes = [a["index"] for a in args]
    if len(set(indexes)) == len(indexes):
        return [args]
    return [[a] for a in args]


def _check(ret: int, what: str) -> None:
    """libseccomp returns -errno."""
    if ret < 0:
        raise SeccompError(f"{what}: {os.strerror(-ret)}")


class SeccompFilter:
    """A filter built in libseccomp, ready to load; build it before pivot_root (the library lives on the host)."""

    def __init__(self, seccomp: dict[str, Any], no_new_privs: bool) -> None:
        self._lib = _libseccomp()
        default = action_code(seccomp["defaultAction"], seccomp.get("defaultErrnoRet"))
        self._ctx = self._lib.seccomp_init(default)
        if not self._ctx:
            raise SeccompError("seccomp_init failed")
        try:
            lib, ctx = self._lib, self._ctx
            _check(lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_NNP, 1 if no_new_privs else 0), "seccomp_attr_set")
            for arch in seccomp.get("architectures") or []:
                if arch not in _ARCH_TOKENS:
                    raise SeccompError(f"unsupported seccomp architecture {arch}")
                ret = lib.seccomp_arch_add(ctx, _ARCH_TOKENS[arch])
                if ret != -errno.EEXIST:
                    _check(ret, f"seccomp_arch_add {arch}")
            for rule in seccomp.get("syscalls") or []:
                _add_rule(lib, ctx, rule, default)
        except BaseException:
            self._lib.seccomp_release(self._ctx)
            raise

    def load(self) -> None:
        """Install the filter on the calling thread (kept across execve) and free libseccomp's copy."""
        try:
            _check(self._lib.seccomp_load(self._ctx), "seccomp_load")
        finally:
            self._lib.seccomp_release(self._ctx)


def _add_rule(lib: ctypes.CDLL, ctx: int, rule: dict[str, Any], default: int) -> None:
    """Add one OCI syscall rule for every name this kernel's arch knows (unknown names are skipped, as runc)."""
    action = action_code(rule["action"], rule.get("errnoRet"))
    if action == default:
        return
    for name in rule.get("names") or []:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number == _NR_SCMP_ERROR:
            continue
        for group in _arg_groups(list(rule.get("args") or [])):
            conds = (_ArgCmp * max(len(group), 1))()
            for i, arg in enumerate(group):
                conds[i] = _ArgCmp(arg["index"], _OPS[arg["op"]], arg["value"], arg.get("valueTwo", 0))
            _check(lib.seccomp_rule_add_array(ctx, action, number, len(group), conds), f"seccomp rule {name}")
