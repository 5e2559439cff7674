"""How consumers of the image service see an image, without importing images/: the Protocols of what they read."""

from __future__ import annotations

from typing import Any, Protocol


class ResolvedImage(Protocol):
    """A resolved image: its id, config JSON and top layer."""

    @property
    def id(self) -> str: ...

    @property
    def config(self) -> dict[str, Any]: ...

    @property
    def chain_id(self) -> str | None: ...


class DerivedImage(Protocol):
    """What deriving a child image answers: its id."""

    @property
    def id(self) -> str: ...
