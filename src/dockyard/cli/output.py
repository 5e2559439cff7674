"""Docker's output formatting: Go tabwriter, table/json/template --format, Go string quoting."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

TABLE_PREFIX = "table"


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go text/tabwriter with docker's settings (minwidth 10, tabwidth 1, padding 3, ' ', no flags)."""
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(a: int, b: int) -> None:
        for li in range(a, b):
            cells = lines[li]
            parts = []
            for j, cell in enumerate(cells):
                if j < len(widths) and j < len(cells) - 1:
                    parts.append(cell + " " * (widths[j] - len(cell)))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out)


def prepare_format(fmt: str) -> tuple[bool, str]:
    """Strip the "table" directive and unescape \\t and \\n like docker's Context.preFormat."""
    is_table = fmt.startswith(TABLE_PREFIX)
    body = fmt[len(TABLE_PREFIX):] if is_table else fmt
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return is_table, body


def render(fmt: str, rows: Iterable[Any], header: dict[str, str], default: str) -> str:
    """Render rows with a docker --format value ("", "table", "json", "table TPL" or a template)."""
    if fmt in ("", TABLE_PREFIX):
        fmt = default
    elif fmt == "json":
        fmt = "{{json .}}"
    is_table, body = prepare_format(fmt)
    rows = list(rows)
    simple = simple_fields(body)
    if simple is not None and all(callable(getattr(type(r), f, None)) for r in rows[:1] for f in simple[1::2]):
        rendered = "".join(_fill(simple, row) + "\n" for row in rows)
        return tabwrite(_fill(simple, _Header(header)) + "\n" + rendered) if is_table else rendered
    from dockyard.util import gotemplate
    try:
        tmpl = gotemplate.parse(body)
        head_tmpl = gotemplate.Template(body, funcs=gotemplate.HEADER_FUNCS)
    except gotemplate.TemplateError as exc:
        raise FormatError(f"failed to parse template: {exc}") from None
    try:
        rendered = "".join(tmpl.execute(row) + "\n" for row in rows)
        if not is_table:
            return rendered
        head = head_tmpl.execute(_Header(header))
    except gotemplate.TemplateError as exc:
        raise FormatError(f"failed to execute template: {exc}") from None
    return tabwrite(head + "\n" + rendered)


def simple_fields(body: str) -> list[str] | None:
    """Split a template made only of text and {{.Field}} actions into [text, field, text, ...], else None.

    This fast path keeps the template engine out of `ps`/`images` with their default formats.
    """
    parts = body.split("{{")
    out = [parts[0]]
    for part in parts[1:]:
        field, sep, text = part.partition("}}")
        if not sep or not field.startswith(".") or not field[1:].isalnum() or "}}" in text:
            return None
        out += [field[1:], text]
    return out if "}}" not in parts[0] else None


def _fill(simple: list[str], row: Any) -> str:
    """Render a simple_fields() template for one row (fields are zero-argument methods)."""
    out = []
    for i, piece in enumerate(simple):
        out.append(str(getattr(row, piece)()) if i % 2 else piece)
    return "".join(out)


class FormatError(Exception):
    """A --format template failed (message already reads "template parsing error: ...")."""


class _Header:
    """Header context: every field (or method such as .Label "k") yields its column title."""

    go_type = "formatter.HeaderContext"

    def __init__(self, titles: dict[str, str]) -> None:
        self._titles = titles

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _HeaderValue(self._titles.get(name, ""))

    def __str__(self) -> str:
        return ""


class _HeaderValue(str):
    """A header title that may also be "called": methods such as .Label "k" title the column "k"."""

    def __call__(self, *args: Any) -> str:
        return str(args[0]) if args and isinstance(args[0], str) else str(self)


def go_quote(text: str) -> str:
    """strconv.Quote: double-quoted with Go escapes."""
    out = ['"']
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def ellipsis(text: str, width: int) -> str:
    """Docker's formatter.Ellipsis for ASCII-width text."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return text[0]
    return text[:width - 1] + "…"


def truncate_id(ident: str) -> str:
    """stringid.TruncateID: drop the algorithm prefix, keep 12 characters."""
    if ":" in ident:
        ident = ident[ident.rfind(":") + 1:]
    return ident[:12]


def print_inspected(ctx: Any, fmt: str | None, fetchers: list[Callable[[], Any]]) -> int:
    """An `inspect` command's output: the objects as indented JSON (or one --format line each), then the
    not-found errors on stderr with exit status 1, as docker prints them."""
    from dockyard.cli.context import CommandError, daemon_error
    from dockyard.cli.system import indent_json
    from dockyard.client.api import APIError
    from dockyard.util import gotemplate
    found, errors = [], []
    for fetch in fetchers:
        try:
            found.append(fetch())
        except APIError as exc:
            if exc.status != 404:
                raise
            errors.append(daemon_error(exc))
    if not fmt or fmt == "json":
        ctx.out(indent_json(found) + "\n")
    else:
        try:
            tmpl = gotemplate.parse(fmt.replace("\\t", "\t").replace("\\n", "\n"), missing_key_error=True)
            ctx.out("".join(tmpl.execute(v) + "\n" for v in found))
        except gotemplate.TemplateError as exc:
            raise CommandError(f"template parsing error: {exc}") from None
    if errors:
        raise CommandError("\n".join(errors))
    return 0
