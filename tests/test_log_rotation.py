"""Log rotation as dockerd's json-file and local drivers do it (max-size, max-file, compress), with `docker logs`
reading across the rotated files: all, --tail, --since, and following a container through its rotations."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

from daemon_harness import Daemon
from helpers import unique

LINES = 400


def _run_to_end(d: Daemon, *options: str, lines: int = LINES, pause: str = "") -> tuple[str, Path]:
    """A container that prints line-1 .. line-N (with `pause` between lines), waited for; (name, its log path)."""
    name = unique("rot")
    script = f"i=1; while [ $i -le {lines} ]; do echo line-$i; {pause} i=$((i+1)); done"
    d.docker_ok("run", "-d", "--name", name, "--network", "none", *options, "busybox", "sh", "-c", script)
    assert d.docker_ok("wait", name) == "0"
    return name, Path(d.inspect(name)["LogPath"])


def _numbers(output: bytes) -> list[int]:
    return [int(line.removeprefix("line-")) for line in output.decode().split()]


def _entries(path: Path) -> list[int]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [int(json.loads(line)["log"].strip().removeprefix("line-")) for line in raw.splitlines()]


def test_json_file_rotates_at_max_size_and_keeps_max_file(clean: Daemon) -> None:
    """max-size=1k max-file=3: the live log and `.1`, `.2`, none beyond; each rotated file holds whole lines, at
    least max-size (1000 bytes: SI units) and less than one more entry; `docker logs` gives what is kept, in order,
    ending with the last line; --tail spans the files."""
    name, log = _run_to_end(clean, "--log-opt", "max-size=1k", "--log-opt", "max-file=3")
    rotated = [Path(f"{log}.1"), Path(f"{log}.2")]
    assert all(p.exists() for p in rotated) and not Path(f"{log}.3").exists()
    for path in rotated:
        assert 1000 <= path.stat().st_size < 1100, path.stat().st_size
    kept = _entries(rotated[1]) + _entries(rotated[0]) + _entries(log)
    assert kept == list(range(kept[0], LINES + 1)) and kept[0] > 1
    assert _numbers(clean.docker_ok("logs", name).encode()) == kept
    tail = len(_entries(log)) + 5  # reaches into `.1`
    assert _numbers(clean.docker_ok("logs", "--tail", str(tail), name).encode()) == kept[-tail:]
    assert _numbers(clean.docker_ok("logs", "--tail", str(len(kept) + 50), name).encode()) == kept
    everything = clean.docker("logs", "--since", "2000-01-01T00:00:00Z", name)
    assert _numbers(everything.stdout) == kept
    clean.docker_ok("rm", name)
    assert not log.parent.exists()


def test_compress_gzips_rotated_files_and_logs_reads_them(clean: Daemon) -> None:
    name, log = _run_to_end(clean, "--log-opt", "max-size=1k", "--log-opt", "max-file=4",
                            "--log-opt", "compress=true")
    packed = [Path(f"{log}.{i}.gz") for i in (3, 2, 1)]
    assert all(p.exists() for p in packed) and not Path(f"{log}.1").exists()
    kept = [n for p in packed for n in _entries(p)] + _entries(log)
    assert kept == list(range(kept[0], LINES + 1))
    assert _numbers(clean.docker_ok("logs", name).encode()) == kept
    clean.docker_ok("rm", name)


def test_max_file_one_keeps_only_the_live_file(clean: Daemon) -> None:
    name, log = _run_to_end(clean, "--log-opt", "max-size=1k")
    assert not Path(f"{log}.1").exists() and log.stat().st_size < 1100
    kept = _entries(log)
    assert kept[-1] == LINES and _numbers(clean.docker_ok("logs", name).encode()) == kept
    clean.docker_ok("rm", name)


def test_local_driver_rotates_with_its_defaults_overridden(clean: Daemon) -> None:
    """local: compress is on by default (dockerd's local driver), so rotated files are gzipped."""
    name, log = _run_to_end(clean, "--log-driver", "local", "--log-opt", "max-size=1k", "--log-opt", "max-file=2")
    assert Path(f"{log}.1.gz").exists() and not Path(f"{log}.2.gz").exists()
    kept = _entries(Path(f"{log}.1.gz")) + _entries(log)
    assert kept[-1] == LINES and _numbers(clean.docker_ok("logs", name).encode()) == kept
    clean.docker_ok("rm", name)


def test_follow_reads_on_across_rotations_without_losing_lines(clean: Daemon) -> None:
    """`docker logs -f` started with the container sees every line once, in order, through many rotations."""
    name = unique("rot-follow")
    lines = 300
    script = f"i=1; while [ $i -le {lines} ]; do echo line-$i; usleep 3000; i=$((i+1)); done"
    clean.docker_ok("create", "--name", name, "--network", "none", "--log-opt", "max-size=1k",
                    "--log-opt", "max-file=100", "busybox", "sh", "-c", script)
    clean.docker_ok("start", name)
    follower = subprocess.run(["docker", "logs", "-f", name], env=clean.env(), capture_output=True, timeout=120)
    assert follower.returncode == 0, follower.stderr
    assert _numbers(follower.stdout) == list(range(1, lines + 1))
    log = Path(clean.inspect(name)["LogPath"])
    assert Path(f"{log}.5").exists()  # it did rotate, many times
    clean.docker_ok("rm", name)


def test_bad_values_fail_the_start_with_dockerds_words(clean: Daemon) -> None:
    """As dockerd: option names are checked at create, values when the logger starts."""
    cases = [
        (("--log-opt", "max-size=1x"), "invalid suffix: 'x'"),
        (("--log-opt", "max-size=-1"), "invalid size: '-1'"),
        (("--log-opt", "max-size=0"), "max-size must be a positive number"),
        (("--log-opt", "max-size=1k", "--log-opt", "max-file=0"), "max-file cannot be less than 1"),
        (("--log-opt", "max-file=three"), 'strconv.Atoi: parsing "three": invalid syntax'),
        (("--log-opt", "compress=maybe"), 'strconv.ParseBool: parsing "maybe": invalid syntax'),
        (("--log-opt", "max-file=3", "--log-opt", "compress=true"),
         "compress cannot be true when max-file is less than 2 or max-size is not set"),
        (("--log-driver", "local", "--log-opt", "max-file=1"),
         "compression cannot be enabled when max file count is 1"),
        (("--log-driver", "local", "--log-opt", "max-size=big"), "invalid value for max-size: big: invalid size"),
    ]
    for options, words in cases:
        result = clean.docker("run", "--rm", "--network", "none", *options, "busybox", "true")
        assert result.returncode != 0, options
        assert f"failed to initialize logging driver: {words}".encode() in result.stderr, (options, result.stderr)
    ok = clean.docker("run", "--rm", "--network", "none", "--log-opt", "max-file=3", "busybox", "echo", "fine")
    assert ok.stdout == b"fine\n", ok.stderr  # max-file without max-size: accepted, nothing rotates


def test_a_rotation_the_file_system_refuses_costs_no_line(clean: Daemon) -> None:
    """When `<log>.1` cannot be replaced (here a directory stands there), the shim logs on in the same file: the
    container runs to its end and every line is kept."""
    name = unique("rot-refused")
    script = f"i=1; while [ $i -le {LINES} ]; do echo line-$i; i=$((i+1)); done"
    clean.docker_ok("create", "--name", name, "--network", "none", "--log-opt", "max-size=1k",
                    "--log-opt", "max-file=2", "busybox", "sh", "-c", script)
    log = Path(clean.inspect(name)["LogPath"])
    (Path(f"{log}.1") / "blocker").mkdir(parents=True)
    clean.docker_ok("start", name)
    assert clean.docker_ok("wait", name) == "0"
    assert _numbers(clean.docker_ok("logs", name).encode()) == list(range(1, LINES + 1))
    assert _entries(log) == list(range(1, LINES + 1))
    clean.docker_ok("rm", name)
