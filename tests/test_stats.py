"""Container stats: the cgroup v1/v2 readers, the network counters, the API (SDK), and both CLIs."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest

from dockyard.cli.stats import StatsContext, cpu_percent, memory_usage
from dockyard.containers.stats import network_stats
from dockyard.runtime.cgroup_stats import StatsV1, StatsV2, host_memory


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_v1_reader_parses_every_controller(tmp_path):
    g = "dockyard/abc"
    _write(tmp_path, {
        f"cpuacct/{g}/cpuacct.usage": "5000000000\n",
        f"cpuacct/{g}/cpuacct.usage_percpu": "3000000000 2000000000 \n",
        f"cpuacct/{g}/cpuacct.stat": f"user {3 * os.sysconf('SC_CLK_TCK')}\nsystem {os.sysconf('SC_CLK_TCK')}\n",
        f"cpu/{g}/cpu.stat": "nr_periods 7\nnr_throttled 2\nthrottled_time 99\n",
        f"memory/{g}/memory.usage_in_bytes": "1048576\n",
        f"memory/{g}/memory.max_usage_in_bytes": "2097152\n",
        f"memory/{g}/memory.limit_in_bytes": "9223372036854771712\n",
        f"memory/{g}/memory.failcnt": "0\n",
        f"memory/{g}/memory.stat": "cache 4096\nrss 8192\ntotal_inactive_file 4096\n",
        f"pids/{g}/pids.current": "3\n",
        f"pids/{g}/pids.max": "max\n",
        f"blkio/{g}/blkio.io_service_bytes_recursive": "Total 0\n",
        f"blkio/{g}/blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\n"
                                                                 "Total 12288\n",
    })
    reader = StatsV1(g, tmp_path)
    cpu = reader.cpu()
    assert cpu["cpu_usage"] == {"total_usage": 5_000_000_000, "percpu_usage": [3_000_000_000, 2_000_000_000],
                                "usage_in_kernelmode": 1_000_000_000, "usage_in_usermode": 3_000_000_000}
    assert cpu["throttling_data"] == {"periods": 7, "throttled_periods": 2, "throttled_time": 99}
    memory = reader.memory()
    assert memory["usage"] == 1048576 and memory["max_usage"] == 2097152 and memory["limit"] == host_memory()
    assert memory["stats"]["total_inactive_file"] == 4096
    assert reader.pids() == {"current": 3}
    assert reader.blkio()["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096}, {"major": 8, "minor": 0, "op": "Write", "value": 8192},
        {"major": 8, "minor": 0, "op": "Total", "value": 12288}]


def test_v2_reader_parses_the_unified_files(tmp_path):
    g = "dockyard/abc"
    _write(tmp_path, {
        f"{g}/cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\n"
                         "throttled_usec 0\n",
        f"{g}/memory.current": "65536\n", f"{g}/memory.max": "1048576\n",
        f"{g}/memory.stat": "anon 32768\nfile 16384\ninactive_file 8192\n",
        f"{g}/pids.current": "2\n", f"{g}/pids.max": "100\n",
        f"{g}/io.stat": "8:16 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
    })
    reader = StatsV2(g, tmp_path)
    assert reader.cpu()["cpu_usage"] == {"total_usage": 1_500_000, "usage_in_kernelmode": 500_000,
                                         "usage_in_usermode": 1_000_000}
    memory = reader.memory()
    assert memory["usage"] == 65536 and memory["limit"] == 1048576 and memory["stats"]["inactive_file"] == 8192
    assert reader.pids() == {"current": 2, "limit": 100}
    blkio = reader.blkio()
    assert blkio["io_service_bytes_recursive"] == [{"major": 8, "minor": 16, "op": "read", "value": 100},
                                                   {"major": 8, "minor": 16, "op": "write", "value": 200}]
    assert blkio["io_serviced_recursive"][1]["value"] == 2


def test_network_counters_come_from_the_process_namespace():
    mine = network_stats(os.getpid())
    dev = Path("/proc/self/net/dev").read_text()
    assert "lo" not in mine
    for name, counters in mine.items():
        assert name in dev and set(counters) >= {"rx_bytes", "tx_bytes", "rx_packets", "tx_dropped"}


def test_cli_figures_follow_docker_formulas():
    stats = {"id": "a" * 64, "name": "/web",
             "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
             "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
             "memory_stats": {"usage": 3 << 20, "limit": 8 << 20, "stats": {"total_inactive_file": 1 << 20}},
             "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 2000}},
             "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096},
                                                            {"op": "write", "value": 8192}]},
             "pids_stats": {"current": 4}}
    assert cpu_percent(stats) == pytest.approx(40.0)
    assert memory_usage(stats) == 2 << 20
    row = StatsContext("web", stats, cpu_percent(stats), True)
    assert (row.ID(), row.Name(), row.CPUPerc(), row.MemUsage(), row.MemPerc(), row.NetIO(), row.BlockIO(),
            row.PIDs()) == ("a" * 12, "web", "40.00%", "2MiB / 8MiB", "25.00%", "1kB / 2kB", "4.1kB / 8.19kB", "4")


@pytest.fixture
def busy(sdk):
    """A running container burning CPU and holding some memory."""
    container = sdk.containers.run("busybox", ["sh", "-c", "x=$(head -c 2000000 /dev/zero | tr '\\0' a); "
                                                         "while true; do :; done"],
                                   detach=True, network_mode="none", name=f"stats-{secrets.token_hex(4)}")
    yield container


def test_sdk_stats_one_reading_and_stream(sdk, busy):
    stats = busy.stats(stream=False)
    assert stats["id"] == busy.id and stats["name"] == f"/{busy.name}"
    assert stats["cpu_stats"]["cpu_usage"]["total_usage"] > stats["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert stats["cpu_stats"]["system_cpu_usage"] > stats["precpu_stats"]["system_cpu_usage"] > 0
    assert cpu_percent(stats) > 10
    assert stats["memory_stats"]["usage"] > 0 and stats["memory_stats"]["limit"] > 0
    assert stats["pids_stats"]["current"] >= 1 and stats["num_procs"] == 0
    assert stats["preread"] < stats["read"] and "blkio_stats" in stats
    one_shot = busy.stats(stream=False, one_shot=True)
    assert one_shot["preread"].startswith("0001-") and one_shot["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    stream = busy.stats(stream=True, decode=True)
    first, second = next(stream), next(stream)
    stream.close()
    assert second["preread"] == first["read"]
    assert second["precpu_stats"]["cpu_usage"]["total_usage"] == first["cpu_stats"]["cpu_usage"]["total_usage"]


def test_stopped_container_has_empty_stats(sdk):
    container = sdk.containers.create("busybox", "true", network_mode="none")
    stats = container.stats(stream=False)
    assert stats["id"] == container.id and stats["read"].startswith("0001-") and stats["memory_stats"] == {}


@pytest.mark.parametrize("tool", ["docker", "cli"])
def test_stats_no_stream_shows_figures(clean, busy, tool, need_docker_cli):
    result = getattr(clean, tool)("stats", "--no-stream", busy.name)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.decode().splitlines()
    assert header.split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%",
                              "NET", "I/O", "BLOCK", "I/O", "PIDS"]
    fields = row.split()
    assert fields[0] == busy.id[:12] and fields[1] == busy.name
    assert float(fields[2].rstrip("%")) > 10
    assert re.fullmatch(r"[\d.]+[KMG]?i?B", fields[3]) and fields[3] != "0B"
    formatted = getattr(clean, tool)("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", busy.name)
    assert formatted.stdout.decode().split()[0] == busy.name and int(formatted.stdout.decode().split()[1]) >= 1
