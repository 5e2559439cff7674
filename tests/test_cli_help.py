"""`dockyard --help` lists every command and management command the CLI has, with docker's lines."""

from __future__ import annotations

import subprocess
import sys

from dockyard.cli.main import COMMANDS, GROUPS

DOCKYARD = [sys.executable, "-m", "dockyard.entry"]


def _help(*args: str) -> str:
    result = subprocess.run([*DOCKYARD, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_top_level_help_lists_every_command_and_group():
    text = _help("--help")
    listed = {line.split()[0] for line in text.splitlines() if line.startswith("  ") and line.split()}
    assert {name for name in COMMANDS if " " not in name} <= listed
    assert set(GROUPS) | {"daemon", "registry"} <= listed
    assert "  attach      Attach local standard input, output, and error streams to a running container" in text


def test_each_group_lists_its_sub_commands():
    for group in GROUPS:
        text = _help(group, "--help")
        assert text.startswith(f"Usage:  dockyard {group} COMMAND"), text
        listed = {line.split()[0] for line in text.splitlines() if line.startswith("  ")}
        expected = {name.split(" ", 1)[1] for name in COMMANDS if name.startswith(group + " ")}
        assert expected - {"list", "remove", "ps"} <= listed, (group, expected - listed)
        assert _help(group) == text
