"""Every request checked against the Engine API's types before a handler (and so a service) sees it.

`Validator.check(request, pattern)` is called in one place, `server/app.py`, after routing. Bodies of the
operations the spec gives a JSON schema are decoded once (`util/jsonsafe.py`: what Go would decode), checked
against the spec's types (`util/apitypes.py`, in dockerd's words) and handed to the handler through
`request.json()`; JSON-valued query parameters that get stored (build labels) are checked the same way;
path and query parameters may not hold NUL bytes. Integers in the query are int64 (`Request.arg_int`).
"""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidParameter
from dockyard.util import jsonsafe
from dockyard.util.apitypes import STR, Arr, Map, Node, Operation, Schema, load_schema

# JSON-valued query parameters that end up stored (labels on a built image) or used as typed values
QUERY_JSON: dict[str, dict[str, Node]] = {
    "POST /build": {"buildargs": Map(STR), "labels": Map(STR), "cachefrom": Arr(STR)},
}


def route_key(method: str, pattern: str) -> str:
    """"POST /images/{name:path}/push" -> "POST /images/{}/push" (the spec's paths, normalised the same)."""
    parts = ["{}" if part.startswith("{") else part for part in pattern.split("/")]
    return f"{method} {'/'.join(parts)}"


class Validator:
    """Checks requests for the routes of one router; keeps what it found per route pattern."""

    def __init__(self, schema: Schema | None = None) -> None:
        self.schema = schema or load_schema()
        self._routes: dict[tuple[str, str], tuple[Operation | None, dict[str, Node] | None]] = {}

    def rules(self, method: str, pattern: str) -> tuple[Operation | None, dict[str, Node] | None]:
        """The body operation and typed JSON query parameters of a route (cached)."""
        found = self._routes.get((method, pattern))
        if found is None:
            key = route_key(method, pattern)
            found = self._routes[(method, pattern)] = (self.schema.operations.get(key), QUERY_JSON.get(key))
        return found

    async def check(self, request: Any, pattern: str) -> None:
        """Refuse the request with InvalidParameter unless its parameters and body have the API's types."""
        for name, value in request.params.items():
            if "\x00" in value:
                raise InvalidParameter(f"invalid {name}: NUL byte in path")
        for name, values in request.query.items():
            for value in values:
                if "\x00" in value:
                    raise InvalidParameter(f'invalid value for "{name}": NUL byte in query parameter')
        operation, query_json = self.rules(request.method, pattern)
        if query_json:
            for name, node in query_json.items():
                text = request.arg(name)
                if text:
                    node.check(jsonsafe.loads(text, f'invalid JSON in parameter "{name}"', depth_check=False),
                               "", "")
        if operation is not None:
            raw = await request.body()
            if raw.strip():
                value = jsonsafe.loads(raw, depth_check=False)
                operation.check(value)
                request.set_json(value)
