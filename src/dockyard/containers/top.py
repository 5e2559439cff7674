"""docker top: the host's `ps` output, kept to the rows of a container's processes."""

from __future__ import annotations

import subprocess
from typing import Any

from dockyard.errors import InvalidParameter


def ps_table(ps_args: str, pids: list[int]) -> dict[str, Any]:
    """Run the host's `ps` with the given arguments and keep the container's rows (docker's way)."""
    args = ps_args.split()
    result = subprocess.run(["ps", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InvalidParameter(f"Error running ps: {result.stderr.strip()}")
    lines = result.stdout.splitlines()
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidParameter("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    wanted = set(pids)
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_index and fields[pid_index].isdigit() and int(fields[pid_index]) in wanted:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}
