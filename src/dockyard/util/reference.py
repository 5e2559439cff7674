"""Docker image references: parse, normalize (busybox -> docker.io/library/busybox:latest), familiar form."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL_PREFIX = "library/"

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_ID_HEX = re.compile(r"^[a-f0-9]{64}$")
_NAME_MAX = 255


@dataclass(frozen=True)
class Reference:
    """A normalized reference: full repository name plus an optional tag and digest."""

    name: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def domain(self) -> str:
        """The registry host part of the name."""
        return self.name.split("/", 1)[0]

    @property
    def path(self) -> str:
        """The repository path without the registry host."""
        return self.name.split("/", 1)[1]

    def familiar_name(self) -> str:
        """The short repository name docker shows: docker.io/library/busybox -> busybox."""
        return familiar_name(self.name)

    def familiar(self) -> str:
        """The short form of the whole reference, e.g. busybox:latest."""
        text = self.familiar_name()
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def familiar_name(full_name: str) -> str:
    """Strip the default registry and the library/ prefix from a normalized repository name."""
    if full_name.startswith(DEFAULT_DOMAIN + "/"):
        rest = full_name[len(DEFAULT_DOMAIN) + 1:]
        if rest.startswith(_OFFICIAL_PREFIX) and rest.count("/") == 1:
            rest = rest[len(_OFFICIAL_PREFIX):]
        return rest
    return full_name


def _split_domain(name: str) -> tuple[str, str]:
    """Docker's splitDockerDomain: the first component is a host only if it looks like one."""
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = _OFFICIAL_PREFIX + remainder
    return domain, remainder


def is_full_id(text: str) -> bool:
    """True for a full image id, with or without the sha256: prefix."""
    return bool(_ID_HEX.match(text[len("sha256:"):] if text.startswith("sha256:") else text))


def is_id_prefix(image_id: str, text: str) -> bool:
    """True when `text` names the image by (a prefix of) its id, sha256: optional."""
    hex_part = text[len("sha256:"):] if text.startswith("sha256:") else text
    return bool(hex_part) and image_id[len("sha256:"):].startswith(hex_part)


def parse(text: str) -> Reference:
    """Parse and normalize a reference as docker's ParseNormalizedNamed does (no default tag)."""
    if _ID_HEX.match(text):
        raise InvalidParameter(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    name_part = re.split(r"[:@]", text.split("/", 1)[-1], maxsplit=1)[0]
    prefix = text[: len(text) - len(text.split("/", 1)[-1])] if "/" in text else ""
    domain, remainder = _split_domain(prefix + name_part)
    if remainder.lower() != remainder:
        raise InvalidParameter(
            f"invalid reference format: repository name ({remainder}) must be lowercase"
        )
    normalized = f"{domain}/{remainder}" + text[len(prefix + name_part):]
    match = _REFERENCE.match(normalized)
    if not match:
        raise InvalidParameter("invalid reference format")
    if len(match.group("name")) > _NAME_MAX:
        raise InvalidParameter("invalid reference format: repository name must not be more than 255 characters")
    return Reference(match.group("name"), match.group("tag"), match.group("digest"))


def parse_tagged(text: str) -> Reference:
    """Parse and normalize, adding the default tag when neither tag nor digest is given."""
    ref = parse(text)
    if ref.tag is None and ref.digest is None:
        return Reference(ref.name, DEFAULT_TAG, None)
    return ref


def repo_tag(repo: str, tag: str | None) -> Reference:
    """Docker's RepoTagReference: repo (maybe with its own tag) plus an optional tag; no digests."""
    ref = parse(repo)
    if ref.digest is not None:
        raise InvalidParameter("refusing to create a tag with a digest reference")
    if tag:
        return Reference(ref.name, validate_tag(tag))
    return Reference(ref.name, ref.tag or DEFAULT_TAG)


def validate_tag(tag: str) -> str:
    """Return `tag` when docker accepts it as a tag, else raise InvalidParameter."""
    if not re.fullmatch(_TAG, tag):
        raise InvalidParameter("invalid reference format")
    return tag


def _path_pattern(pattern: str) -> re.Pattern[str]:
    """Translate a Go path.Match pattern (where * never crosses /) to a regex."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise InvalidParameter(f"invalid reference filter pattern {pattern!r}")
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else re.escape(body).replace(r"\-", "-")) + "]")
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def familiar_match(pattern: str, ref: Reference) -> bool:
    """Docker's FamiliarMatch: glob against the familiar reference, then against the familiar name."""
    regex = _path_pattern(pattern)
    return bool(regex.match(ref.familiar()) or regex.match(ref.familiar_name()))
