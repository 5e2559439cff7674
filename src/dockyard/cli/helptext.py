"""Top-level help laid out as docker's: common commands, management commands, the rest, with docker's texts."""

from __future__ import annotations

from typing import Iterable

COMMON = ("run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "search", "version", "info")

DESCRIPTIONS = {
    "run": "Create and run a new container from an image", "exec": "Execute a command in a running container",
    "ps": "List containers", "build": "Build an image from a Dockerfile", "pull": "Download an image from a registry",
    "push": "Upload an image to a registry", "images": "List images", "login": "Authenticate to a registry",
    "logout": "Log out from a registry", "search": "Search a registry for images",
    "version": "Show the Dockyard version information", "info": "Display system-wide information",
    "attach": "Attach local standard input, output, and error streams to a running container",
    "commit": "Create a new image from a container's changes",
    "cp": "Copy files/folders between a container and the local filesystem", "create": "Create a new container",
    "diff": "Inspect changes to files or directories on a container's filesystem",
    "events": "Get real time events from the server", "export": "Export a container's filesystem as a tar archive",
    "history": "Show the history of an image",
    "import": "Import the contents from a tarball to create a filesystem image",
    "inspect": "Return low-level information on Docker objects", "kill": "Kill one or more running containers",
    "load": "Load an image from a tar archive or STDIN", "logs": "Fetch the logs of a container",
    "pause": "Pause all processes within one or more containers",
    "port": "List port mappings or a specific mapping for the container", "rename": "Rename a container",
    "restart": "Restart one or more containers", "rm": "Remove one or more containers",
    "rmi": "Remove one or more images",
    "save": "Save one or more images to a tar archive (streamed to STDOUT by default)",
    "start": "Start one or more stopped containers",
    "stats": "Display a live stream of container(s) resource usage statistics",
    "stop": "Stop one or more running containers", "tag": "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    "top": "Display the running processes of a container",
    "unpause": "Unpause all processes within one or more containers",
    "update": "Update configuration of one or more containers",
    "wait": "Block until one or more containers stop, then print their exit codes",
}

GROUP_DESCRIPTIONS = {
    "builder": "Manage builds", "container": "Manage containers", "image": "Manage images",
    "network": "Manage networks", "system": "Manage Docker", "volume": "Manage volumes",
    "swarm": "Manage Swarm", "node": "Manage Swarm nodes", "secret": "Manage Swarm secrets",
    "config": "Manage Swarm configs", "service": "Manage Swarm services",
    "tls": "Make certificates for a TLS daemon and its clients", "context": "Manage contexts",
}

_OBJECTS = {"container": "containers", "image": "images", "network": "networks", "volume": "volumes",
            "node": "nodes", "secret": "secrets", "config": "configs", "service": "services"}
_ALIASES = {"list", "remove", "ps"}  # docker lists a sub-command once, under its first name


def _sub_description(group: str, sub: str) -> str:
    """docker's line for `group sub`."""
    objects = _OBJECTS.get(group, "")
    special = {
        ("network", "create"): "Create a network", ("volume", "create"): "Create a volume",
        ("network", "connect"): "Connect a container to a network",
        ("network", "disconnect"): "Disconnect a container from a network",
        ("container", "prune"): "Remove all stopped containers", ("image", "prune"): "Remove unused images",
        ("network", "prune"): "Remove all unused networks", ("volume", "prune"): "Remove all unused local volumes",
        ("system", "prune"): "Remove unused data", ("system", "df"): "Show docker disk usage",
        ("builder", "prune"): "Remove build cache",
        ("swarm", "init"): "Initialize a swarm", ("swarm", "join"): "Join a swarm as a node and/or manager",
        ("swarm", "join-token"): "Manage join tokens", ("swarm", "leave"): "Leave the swarm",
        ("swarm", "unlock"): "Unlock swarm", ("swarm", "unlock-key"): "Manage the unlock key",
        ("swarm", "ca"): "Display and rotate the root CA",
        ("swarm", "update"): "Update the swarm", ("node", "ls"): "List nodes in the swarm",
        ("node", "update"): "Update a node", ("node", "rm"): "Remove one or more nodes from the swarm",
        ("node", "promote"): "Promote one or more nodes to manager in the swarm",
        ("node", "demote"): "Demote one or more nodes from manager in the swarm",
        ("secret", "create"): "Create a secret from a file or STDIN as content",
        ("config", "create"): "Create a config from a file or STDIN",
        ("tls", "create"): "Make a CA, a server certificate and a client certificate",
        ("system", "dial-stdio"): "Proxy the stdio stream to the daemon connection",
        ("context", "create"): "Create a context", ("context", "use"): "Set the current docker context",
        ("context", "show"): "Print the name of the current context", ("context", "update"): "Update a context",
        ("context", "export"): "Export a context to a tar archive FILE or a tar stream on STDOUT.",
        ("context", "import"): "Import a context from a tar or zip file",
        ("context", "ls"): "List contexts", ("context", "rm"): "Remove one or more contexts",
        ("context", "inspect"): "Display detailed information on one or more contexts",
        ("service", "create"): "Create a new service", ("service", "ps"): "List the tasks of one or more services",
        ("service", "logs"): "Fetch the logs of a service or task",
        ("service", "scale"): "Scale one or multiple replicated services",
        ("service", "update"): "Update a service",
        ("service", "rollback"): "Revert changes to a service's configuration",
    }
    if (group, sub) in special:
        return special[(group, sub)]
    if sub == "ls":
        return f"List {objects}"
    if sub == "inspect":
        return f"Display detailed information on one or more {objects}"
    if sub == "rm" and group != "image":
        return f"Remove one or more {objects}"
    return DESCRIPTIONS["rmi" if (group, sub) == ("image", "rm") else sub]


def group_usage(prog: str, group: str, commands: Iterable[str]) -> str:
    """The text of `dockyard GROUP --help`: its sub-commands with docker's lines."""
    subs = sorted({name.split(" ", 1)[1] for name in commands if name.startswith(group + " ")} - _ALIASES)
    rows = "".join(f"  {sub:<11} {_sub_description(group, sub)}\n" for sub in subs)
    return (f"Usage:  {prog} {group} COMMAND\n\n{GROUP_DESCRIPTIONS[group]}\n\nCommands:\n{rows}\n"
            f"Run '{prog} {group} COMMAND --help' for more information on a command.\n")


# Served by other entry points of the same console script (dockyard.entry), not by the CLI's dispatch table.
OTHER_ENTRY_POINTS = {"daemon": "Run the Dockyard daemon (dockerd's counterpart)",
                      "registry": "Run and maintain a Dockyard registry (serve, gc)"}


def _rows(names: Iterable[str], texts: dict[str, str]) -> str:
    return "".join(f"  {name:<11} {texts[name]}\n" for name in names)


def usage(prog: str, commands: Iterable[str], groups: Iterable[str], plugins: dict[str, str] | None = None) -> str:
    """The text of `dockyard --help` for these command keys ("ps", "container ls"...), management groups and CLI
    plugins (listed among the management commands with a "*", as docker does)."""
    top = sorted(name for name in commands if " " not in name)
    missing = [name for name in top if name not in DESCRIPTIONS]
    if missing:
        raise KeyError(f"commands without a help line: {missing}")
    common = [name for name in COMMON if name in top]
    rest = [name for name in top if name not in COMMON]
    management = {**{g: GROUP_DESCRIPTIONS[g] for g in groups}, **OTHER_ENTRY_POINTS,
                  **{f"{name}*": text for name, text in (plugins or {}).items()}}
    return (f"Usage:  {prog} [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\n"
            f"Common Commands:\n{_rows(common, DESCRIPTIONS)}\n"
            f"Management Commands:\n{_rows(sorted(management), management)}\n"
            f"Commands:\n{_rows(rest, DESCRIPTIONS)}\n"
            f"Run '{prog} COMMAND --help' for more information on a command.\n")
