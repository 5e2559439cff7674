"""Row contexts for --format (docker's formatter.ContainerContext, ImageContext, HistoryContext)."""

from __future__ import annotations

import time
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.output import ellipsis, go_quote, truncate_id
from dockyard.util.humanize import human_duration, human_size, human_size_precision

CONTAINER_HEADERS = {
    "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "ImageID": "IMAGE ID", "Command": "COMMAND",
    "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
    "Size": "SIZE", "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS", "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM",
}
PS_DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE",
    "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}
IMAGES_DEFAULT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                   "Size": "SIZE", "Comment": "COMMENT"}
HISTORY_DEFAULT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


def go_time(unix_ts: float) -> str:
    """time.Unix(ts, 0).String(): "2024-01-02 15:04:05 +0000 UTC" in local time."""
    t = time.localtime(unix_ts)
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", t) + (t.tm_zone or "")


def since(unix_ts: float) -> str:
    """"3 hours ago"."""
    return human_duration(time.time() - unix_ts) + " ago"


def familiar(ref: str) -> str:
    """Docker's FamiliarString: drop docker.io/ and library/ prefixes."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def display_ports(ports: list[dict[str, Any]]) -> str:
    """formatter.DisplayablePorts: group consecutive ports, list host mappings last."""
    ordered = sorted(ports or [], key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""),
                                                  p.get("PublicPort", 0), p.get("Type", "")))
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    mappings: list[str] = []
    for port in ordered:
        current = port.get("PrivatePort", 0)
        key = port.get("Type", "")
        ip = port.get("IP", "")
        if ip:
            public = port.get("PublicPort", 0)
            if public != current:
                host = f"[{ip}]" if ":" in ip else ip
                mappings.append(f"{host}:{public}->{current}/{port.get('Type', '')}")
                continue
            key = f"{ip}/{key}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
            order.append(key)
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(_form_group(key, group[0], group[1]))
        groups[key] = [current, current]
    result += [_form_group(k, *groups[k]) for k in order]
    return ", ".join(result + mappings)


def _form_group(key: str, first: int, last: int) -> str:
    """"80-81/tcp" or "0.0.0.0:80->80/tcp"."""
    ip, _, kind = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{ip}:{group}->{group}"
    return f"{group}/{kind}"


class ContainerContext:
    """One `ps` row; each method is a --format field."""

    go_type = "*formatter.ContainerContext"

    def __init__(self, c: dict[str, Any], trunc: bool) -> None:
        self._c = c
        self._trunc = trunc

    def ID(self) -> str:
        """Container id (12 characters unless --no-trunc)."""
        return truncate_id(self._c.get("Id", "")) if self._trunc else self._c.get("Id", "")

    def Names(self) -> str:
        """Names without "/" (only the primary name when truncating)."""
        names = [n[1:] if n.startswith("/") else n for n in self._c.get("Names") or []]
        if self._trunc:
            for name in names:
                if "/" not in name:
                    names = [name]
                    break
        return ",".join(names)

    def Image(self) -> str:
        """Image as given, shortened like docker."""
        image = self._c.get("Image") or ""
        if not image:
            return "<no image>"
        if self._trunc:
            if truncate_id(self._c.get("ImageID", "")) == truncate_id(image):
                return truncate_id(image)
            return familiar(image.split("@", 1)[0])
        return image

    def ImageID(self) -> str:
        """Image id."""
        image_id = self._c.get("ImageID", "")
        return truncate_id(image_id) if self._trunc else image_id

    def Command(self) -> str:
        """Quoted command, cut at 20 characters unless --no-trunc."""
        command = self._c.get("Command", "")
        return go_quote(ellipsis(command, 20) if self._trunc else command)

    def CreatedAt(self) -> str:
        """Creation time as Go prints a time.Time."""
        return go_time(self._c.get("Created", 0))

    def RunningFor(self) -> str:
        """"5 minutes ago"."""
        return since(self._c.get("Created", 0))

    def Ports(self) -> str:
        """Published and exposed ports."""
        return display_ports(self._c.get("Ports") or [])

    def State(self) -> str:
        """running, exited ..."""
        return self._c.get("State", "")

    def Status(self) -> str:
        """"Up 5 minutes", "Exited (0) 2 seconds ago"."""
        return self._c.get("Status", "")

    def Size(self) -> str:
        """"12B (virtual 5.2MB)"."""
        srw = human_size_precision(self._c.get("SizeRw") or 0, 3)
        rootfs = self._c.get("SizeRootFs") or 0
        return f"{srw} (virtual {human_size_precision(rootfs, 3)})" if rootfs > 0 else srw

    def Labels(self) -> str:
        """"k=v,k2=v2"."""
        labels = self._c.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def Label(self, name: str) -> str:
        """Value of one label ("" if unset)."""
        return (self._c.get("Labels") or {}).get(name, "")

    def Mounts(self) -> str:
        """Volume names or bind sources."""
        names = []
        for m in self._c.get("Mounts") or []:
            name = m.get("Name") or m.get("Source", "")
            names.append(ellipsis(name, 15) if self._trunc else name)
        return ",".join(names)

    def LocalVolumes(self) -> str:
        """Number of local-driver volumes."""
        return str(sum(1 for m in self._c.get("Mounts") or [] if m.get("Driver") == "local"))

    def Networks(self) -> str:
        """Attached network names."""
        nets = ((self._c.get("NetworkSettings") or {}).get("Networks") or {})
        return ",".join(sorted(nets))

    def Platform(self) -> Any:
        """Image platform, if the daemon reported one."""
        return (self._c.get("ImageManifestDescriptor") or {}).get("platform")

    def to_json(self) -> dict[str, Any]:
        """docker ps --format json: every field as a string."""
        keys = ("Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names",
                "Networks", "Platform", "Ports", "RunningFor", "Size", "State", "Status")
        return {k: getattr(self, k)() for k in keys}


class ImageContext:
    """One `images` row."""

    go_type = "*formatter.imageContext"

    def __init__(self, img: dict[str, Any], repo: str, tag: str, digest: str, trunc: bool) -> None:
        self._i = img
        self._repo = repo
        self._tag = tag
        self._digest = digest
        self._trunc = trunc

    def ID(self) -> str:
        """Image id (12 hex digits unless --no-trunc)."""
        return truncate_id(self._i.get("Id", "")) if self._trunc else self._i.get("Id", "")

    def Repository(self) -> str:
        """Repository name or <none>."""
        return self._repo

    def Tag(self) -> str:
        """Tag or <none>."""
        return self._tag

    def Digest(self) -> str:
        """Repository digest or <none>."""
        return self._digest

    def CreatedSince(self) -> str:
        """"2 weeks ago" (N/A when unknown)."""
        created = self._i.get("Created", 0)
        return "N/A" if not created else since(created)

    def CreatedAt(self) -> str:
        """Creation time as Go prints a time.Time."""
        return go_time(self._i.get("Created", 0))

    def Size(self) -> str:
        """Size with 3 significant digits."""
        return human_size_precision(self._i.get("Size", 0), 3)

    def Containers(self) -> str:
        """Number of containers using the image (N/A if unknown)."""
        n = self._i.get("Containers", -1)
        return "N/A" if n == -1 else str(n)

    def VirtualSize(self) -> str:
        """Size with 4 significant digits (deprecated field)."""
        return human_size(self._i.get("Size", 0))

    def SharedSize(self) -> str:
        """Shared size (N/A if unknown)."""
        n = self._i.get("SharedSize", -1)
        return "N/A" if n == -1 else human_size_precision(n, 3)

    def UniqueSize(self) -> str:
        """Size minus shared size (N/A if unknown)."""
        n = self._i.get("SharedSize", -1)
        return "N/A" if n == -1 else human_size_precision(self._i.get("Size", 0) - n, 3)

    def to_json(self) -> dict[str, Any]:
        """docker images --format json."""
        keys = ("Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size",
                "Tag", "UniqueSize", "VirtualSize")
        return {k: getattr(self, k)() for k in keys}


def image_rows(images: list[dict[str, Any]], digests: bool, trunc: bool) -> list[ImageContext]:
    """Expand image summaries into rows per repository:tag (docker's imageFormatTaggedAndDigest)."""
    rows: list[ImageContext] = []
    for img in images:
        tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
        dgsts = [d for d in img.get("RepoDigests") or [] if d != "<none>@<none>"]
        if not tags and not dgsts:
            rows.append(ImageContext(img, "<none>", "<none>", "<none>", trunc))
            continue
        repo_tags: dict[str, list[str]] = {}
        repo_digests: dict[str, list[str]] = {}
        for ref in tags:
            name, _, tag = ref.rpartition(":")
            if "/" in tag or not name:
                continue
            repo_tags.setdefault(familiar(name), []).append(tag)
        for ref in dgsts:
            name, _, dgst = ref.partition("@")
            repo_digests.setdefault(familiar(name), []).append(dgst)
        for repo, repo_tag_list in sorted(repo_tags.items()):
            repo_dg = repo_digests.pop(repo, [])
            if not digests:
                repo_dg = []
            for tag in repo_tag_list:
                for dgst in repo_dg or ["<none>"]:
                    rows.append(ImageContext(img, repo, tag, dgst, trunc))
        for repo, dg_list in repo_digests.items():
            for dgst in dg_list if digests else [""]:
                rows.append(ImageContext(img, repo, "<none>", dgst, trunc))
    return rows


class HistoryContext:
    """One `history` row."""

    go_type = "*formatter.historyContext"

    def __init__(self, h: dict[str, Any], trunc: bool, human: bool) -> None:
        self._h = h
        self._trunc = trunc
        self._human = human

    def ID(self) -> str:
        """Layer image id or <missing>."""
        ident = self._h.get("Id", "")
        return truncate_id(ident) if self._trunc and ident != "<missing>" else ident

    def CreatedSince(self) -> str:
        """"2 weeks ago" or RFC 3339 with -H=false."""
        created = self._h.get("Created", 0)
        return since(created) if self._human else self.CreatedAt()

    def CreatedAt(self) -> str:
        """RFC 3339 time."""
        t = time.localtime(self._h.get("Created", 0))
        tz = time.strftime("%z", t)
        tz = "Z" if tz == "+0000" else f"{tz[:3]}:{tz[3:]}"
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + tz

    def CreatedBy(self) -> str:
        """The command that made the layer (cut at 45 characters unless --no-trunc)."""
        created_by = (self._h.get("CreatedBy") or "").replace("\t", " ")
        return ellipsis(created_by, 45) if self._trunc else created_by

    def Size(self) -> str:
        """Layer size."""
        size = self._h.get("Size", 0)
        return human_size_precision(size, 3) if self._human else str(size)

    def Comment(self) -> str:
        """Layer comment."""
        return self._h.get("Comment") or ""

    def to_json(self) -> dict[str, Any]:
        """docker history --format json."""
        keys = ("Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size")
        return {k: getattr(self, k)() for k in keys}


def filters_json(items: list[str]) -> str | None:
    """--filter k=v ... as docker's JSON ({"k": {"v": true}}), or None when empty."""
    if not items:
        return None
    import json
    out: dict[str, dict[str, bool]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            from dockyard.cli.context import CommandError
            raise CommandError("bad format of filter (expected name=value)")
        out.setdefault(key.strip().lower(), {})[value] = True
    return json.dumps(out, separators=(",", ":"))
