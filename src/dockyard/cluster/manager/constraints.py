"""Placement constraints (swarmkit's `manager/constraint`): `key==value` / `key!=value` on node.id, node.hostname,
node.ip, node.role, node.platform.os, node.platform.arch, node.labels.<label> and engine.labels.<label>; values
compare case-insensitively, a missing label is the empty string."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidParameter

OPERATORS = ("==", "!=")
KEY_RE = re.compile(r"(?i)[a-z_][a-z0-9\-_.]+\Z")
VALUE_RE = re.compile(r"(?i)[a-z0-9:\-_\s.*()?+\[\]\\^$|/]+\Z")
NODE_LABELS = "node.labels."
ENGINE_LABELS = "engine.labels."


@dataclass(frozen=True)
class Constraint:
    """One parsed expression."""

    key: str
    equal: bool
    value: str

    def match(self, actual: str) -> bool:
        """Whether `actual` satisfies the expression."""
        return (self.value.casefold() == actual.casefold()) == self.equal


def parse(expressions: list[str]) -> list[Constraint]:
    """Parsed constraints, or InvalidParameter with swarmkit's text."""
    parsed = []
    for expression in expressions:
        op = next((op for op in OPERATORS if op in expression), None)
        if op is None:
            raise InvalidParameter(f"constraint expected one operator from {', '.join(OPERATORS)}")
        key, value = (part.strip() for part in expression.split(op, 1))
        if not KEY_RE.match(key):
            raise InvalidParameter(f"key '{key}' is invalid")
        if not VALUE_RE.match(value):
            raise InvalidParameter(f"value '{value}' is invalid")
        parsed.append(Constraint(key, op == "==", value))
    return parsed


def _node_ip_matches(constraint: Constraint, node: dict[str, Any]) -> bool:
    """node.ip: the node's address equals the value, or lies in it when the value is a network."""
    addr = node.get("Status", {}).get("Addr", "")
    try:
        inside = ipaddress.ip_address(addr) in ipaddress.ip_network(constraint.value, strict=False)
    except ValueError:
        return constraint.match(addr)
    return inside == constraint.equal


def node_value(key: str, node: dict[str, Any]) -> str | None:
    """What a constraint or spread key names on a node ("" for a missing label, None for an unknown key)."""
    description = node.get("Description") or {}
    platform = description.get("Platform") or {}
    fields = {"node.id": node.get("ID", ""), "node.hostname": description.get("Hostname", ""),
              "node.role": node.get("Spec", {}).get("Role", ""), "node.platform.os": platform.get("OS", ""),
              "node.platform.arch": platform.get("Architecture", "")}
    lowered = key.lower()
    if lowered in fields:
        return str(fields[lowered])
    if lowered.startswith(NODE_LABELS):
        return str((node.get("Spec", {}).get("Labels") or {}).get(key[len(NODE_LABELS):], ""))
    if lowered.startswith(ENGINE_LABELS):
        return str(((description.get("Engine") or {}).get("Labels") or {}).get(key[len(ENGINE_LABELS):], ""))
    return None


def node_matches(constraints: list[Constraint], node: dict[str, Any]) -> bool:
    """Whether a node (docker's API shape) satisfies every constraint; unknown keys never match."""
    for constraint in constraints:
        if constraint.key.lower() == "node.ip":
            ok = _node_ip_matches(constraint, node)
        else:
            actual = node_value(constraint.key, node)
            ok = actual is not None and constraint.match(actual)
        if not ok:
            return False
    return True


def service_constraints(task_spec: dict[str, Any]) -> list[Constraint]:
    """The constraints of a task spec (already validated at create time)."""
    return parse((task_spec.get("Placement") or {}).get("Constraints") or [])
