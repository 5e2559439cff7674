"""`--cache-from` as docker's classic builder reads it: an image's history and layers are a chain of cached steps."""

from __future__ import annotations

import contextlib
from typing import Any

from dockyard.builder.protocols import BuildImages
from dockyard.errors import NotFound
from dockyard.util.imageview import ResolvedImage
from dockyard.util.tarsafe import decompressed


class CacheSources:
    """The images named by `--cache-from` (missing ones are skipped, as docker does). A step matches a source when
    the parent's history and layers are a prefix of the source's and the next history entry was made by the same
    instruction; after the first match only that source is used."""

    def __init__(self, images: BuildImages, refs: list[str]) -> None:
        self.images = images
        self.sources: list[ResolvedImage] = []
        for ref in refs:
            with contextlib.suppress(NotFound):
                self.sources.append(images.resolve(ref))

    def find(self, parent: ResolvedImage | None, created_by: str, layered: bool, config: dict[str, Any],
             author: str) -> ResolvedImage | None:
        """The image this step would produce, restored from a source; None when no source has it."""
        history = _history(parent)
        for source in self.sources:
            source_history = _history(source)
            if not _is_prefix(parent, source) or len(source_history) <= len(history):
                continue
            entry = source_history[len(history)]
            if entry.get("created_by") != created_by or bool(entry.get("empty_layer")) == layered:
                continue
            self.sources = [source]
            if len(source_history) == len(history) + 1:
                return source
            return self._restore(parent, source, entry, config, author)
        return None

    def _restore(self, parent: ResolvedImage | None, source: ResolvedImage, entry: dict[str, Any],
                 config: dict[str, Any], author: str) -> ResolvedImage:
        """A child of `parent` with the source's layer for this step (if it has one) and this build's config."""
        with contextlib.ExitStack() as stack:
            layer = None
            if not entry.get("empty_layer"):
                layer = decompressed(stack.enter_context(self.images.open_layer(source.id, len(_diff_ids(parent)))))
            record = self.images.derive(parent, layer, config, entry["created_by"], author=author)
        return self.images.resolve(record.id)


def _history(image: ResolvedImage | None) -> list[dict[str, Any]]:
    return list((image.config.get("history") or []) if image is not None else [])


def _diff_ids(image: ResolvedImage | None) -> list[str]:
    return list(((image.config.get("rootfs") or {}).get("diff_ids") or []) if image is not None else [])


def _step(entry: dict[str, Any]) -> tuple[str, bool, str, str]:
    """What identifies a history entry as a step; its time is left out, since a restored step gets a new one."""
    return (entry.get("created_by", ""), bool(entry.get("empty_layer")), entry.get("comment", ""),
            entry.get("author", ""))


def _is_prefix(parent: ResolvedImage | None, source: ResolvedImage) -> bool:
    """docker's isValidParent: the parent's history entries (as steps) and layers begin the source's."""
    history, source_history = _history(parent), _history(source)
    diff_ids, source_diff_ids = _diff_ids(parent), _diff_ids(source)
    return ([_step(h) for h in source_history[:len(history)]] == [_step(h) for h in history]
            and source_diff_ids[:len(diff_ids)] == diff_ids)
