"""A subset of Go's text/template, as Docker's --format uses it (with Docker's extra functions).

Data is plain Python: dicts are Go maps (".Key" looks the key up), other objects expose Go
fields as attributes or zero-argument methods. `None` prints as "<no value>" like a nil interface.
"""

from __future__ import annotations

import json as _json
import re
from dataclasses import dataclass, field
from typing import Any, Callable


class TemplateError(Exception):
    """A template failed to parse or execute; the message reads like Go's."""


NAME = ""  # Docker parses its templates with an empty name: errors read "template: :1: ..."


# ---------------------------------------------------------------- lexer

@dataclass
class Token:
    """One lexical item inside an action (kind, text, byte offset in the template)."""

    kind: str
    text: str
    pos: int


_WS = " \t\r\n"
_NUMBER_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


def _line_of(text: str, pos: int) -> int:
    """1-based line number of a byte offset."""
    return text.count("\n", 0, pos) + 1


def _lex_action(src: str, start: int, end: int) -> list[Token]:
    """Split the inside of one action src[start:end] into tokens."""
    tokens: list[Token] = []
    i = start
    paren = 0
    while i < end:
        c = src[i]
        if c in _WS:
            i += 1
            if not tokens or tokens[-1].kind != "space":
                tokens.append(Token("space", " ", i - 1))
            continue
        if c == "|":
            tokens.append(Token("pipe", c, i))
            i += 1
        elif c == "(":
            paren += 1
            tokens.append(Token("lparen", c, i))
            i += 1
        elif c == ")":
            paren -= 1
            if paren < 0:
                raise TemplateError(f"template: {NAME}:{_line_of(src, i)}: unexpected right paren")
            tokens.append(Token("rparen", c, i))
            i += 1
        elif c == ",":
            tokens.append(Token("comma", c, i))
            i += 1
        elif src.startswith(":=", i):
            tokens.append(Token("declare", ":=", i))
            i += 2
        elif c == "=":
            tokens.append(Token("assign", "=", i))
            i += 1
        elif c == '"':
            j = i + 1
            while j < end and src[j] != '"':
                if src[j] == "\\":
                    j += 1
                if j < end and src[j] == "\n":
                    break
                j += 1
            if j >= end or src[j] != '"':
                raise TemplateError(f"template: {NAME}:{_line_of(src, i)}: unterminated quoted string")
            tokens.append(Token("string", src[i:j + 1], i))
            i = j + 1
        elif c == "`":
            j = src.find("`", i + 1, end)
            if j < 0:
                raise TemplateError(f"template: {NAME}:{_line_of(src, i)}: unterminated raw quoted string")
            tokens.append(Token("rawstring", src[i:j + 1], i))
            i = j + 1
        elif c == "." and (i + 1 >= end or not src[i + 1].isdigit()):
            m = _IDENT_RE.match(src, i + 1, end)
            if m:
                tokens.append(Token("field", m.group(0), i))
                i = m.end()
            else:
                tokens.append(Token("dot", ".", i))
                i += 1
        elif c == "$":
            m = _IDENT_RE.match(src, i + 1, end)
            name = "$" + (m.group(0) if m else "")
            tokens.append(Token("variable", name, i))
            i += len(name)
        elif c.isdigit() or (c in "+-." and i + 1 < end and src[i + 1].isdigit()):
            m = _NUMBER_RE.match(src, i, end)
            assert m is not None
            tokens.append(Token("number", m.group(0), i))
            i = m.end()
        elif c == "'":
            j = src.find("'", i + 1, end)
            if j < 0:
                raise TemplateError(f"template: {NAME}:{_line_of(src, i)}: unterminated character constant")
            tokens.append(Token("char", src[i:j + 1], i))
            i = j + 1
        else:
            m = _IDENT_RE.match(src, i, end)
            if not m:
                raise TemplateError(
                    f"template: {NAME}:{_line_of(src, i)}: unexpected {_go_quote_char(c)} in command")
            word = m.group(0)
            kind = "keyword" if word in _KEYWORDS else ("bool" if word in ("true", "false") else
                                                         "nil" if word == "nil" else "ident")
            tokens.append(Token(kind, word, i))
            i = m.end()
    if paren > 0:
        raise TemplateError(f"template: {NAME}:{_line_of(src, end)}: unclosed left paren")
    while tokens and tokens[-1].kind == "space":
        tokens.pop()
    while tokens and tokens[0].kind == "space":
        tokens.pop(0)
    return tokens


def _go_quote_char(c: str) -> str:
    """Go's %q of a rune, for error messages."""
    return "'" + c + "'" if c.isprintable() else repr(c)


@dataclass
class _Piece:
    """A text run or an action's tokens, as the lexer hands them to the parser."""

    text: str | None
    tokens: list[Token]
    pos: int


def _lex(src: str) -> list[_Piece]:
    """Split a template into text pieces and actions, applying {{- and -}} trim markers."""
    pieces: list[_Piece] = []
    i = 0
    trim_next = False
    while True:
        j = src.find("{{", i)
        text = src[i:] if j < 0 else src[i:j]
        if trim_next:
            text = text.lstrip(_WS)
        if j >= 0 and src.startswith("{{- ", j) or j >= 0 and src.startswith("{{-\t", j) or \
                j >= 0 and src.startswith("{{-\n", j):
            text = text.rstrip(_WS)
            inner = j + 3
        else:
            inner = j + 2
        if text:
            pieces.append(_Piece(text, [], i))
        if j < 0:
            return pieces
        if src.startswith("/*", inner):
            cstart = src.find("/*", inner)
            cend = src.find("*/", cstart + 2)
            if cend < 0:
                raise TemplateError(f"template: {NAME}:{_line_of(src, j)}: unclosed comment")
            close = src.find("}}", cend + 2)
            if close < 0:
                raise TemplateError(f"template: {NAME}:{_line_of(src, j)}: comment ends before closing delimiter")
            trim_next = src[cend + 2:close].strip() == "-"
            i = close + 2
            continue
        close = _find_close(src, inner)
        if close < 0:
            raise TemplateError(f"template: {NAME}:{_line_of(src, j)}: unclosed action")
        end = close
        trim_next = close >= 2 and src[close - 1] == "-" and src[close - 2] in _WS
        if trim_next:
            end = close - 1
        pieces.append(_Piece(None, _lex_action(src, inner, end), j))
        i = close + 2


def _find_close(src: str, start: int) -> int:
    """Index of the "}}" closing an action, skipping over quoted strings."""
    i = start
    while i < len(src):
        c = src[i]
        if c == '"':
            i += 1
            while i < len(src) and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
        elif c == "`":
            i = src.find("`", i + 1)
            if i < 0:
                return -1
        elif src.startswith("}}", i):
            return i
        elif c == "\n":
            return -1 if src.find("}}", i) < 0 else _find_close_after_newline(src, i)
        i += 1
    return -1


def _find_close_after_newline(src: str, i: int) -> int:
    """Go allows newlines inside actions since 1.16; keep scanning."""
    return src.find("}}", i)


# ---------------------------------------------------------------- nodes

@dataclass
class Node:
    """Base of parse-tree nodes; pos is the byte offset used in error messages."""

    pos: int


@dataclass
class TextNode(Node):
    """Literal text."""

    text: str


@dataclass
class FieldNode(Node):
    """.A.B chain on dot."""

    idents: list[str]


@dataclass
class VariableNode(Node):
    """$x.A.B chain on a variable."""

    name: str
    idents: list[str]


@dataclass
class ChainNode(Node):
    """(pipeline).A.B."""

    node: Node
    idents: list[str]


@dataclass
class DotNode(Node):
    """The cursor: `.`."""


@dataclass
class LiteralNode(Node):
    """A string, number, bool or nil constant."""

    value: Any


@dataclass
class IdentifierNode(Node):
    """A function name."""

    name: str


@dataclass
class CommandNode(Node):
    """One command of a pipeline: operand followed by arguments."""

    args: list[Node]


@dataclass
class PipeNode(Node):
    """cmd | cmd | ...; optionally declaring or assigning variables."""

    decl: list[str]
    is_assign: bool
    cmds: list[CommandNode]


@dataclass
class ActionNode(Node):
    """{{pipeline}}: prints the value unless it declares variables."""

    pipe: PipeNode


@dataclass
class ListNode(Node):
    """A sequence of nodes."""

    nodes: list[Node] = field(default_factory=list)


@dataclass
class BranchNode(Node):
    """if / range / with."""

    kind: str
    pipe: PipeNode
    body: ListNode
    else_body: ListNode | None


@dataclass
class LoopControlNode(Node):
    """{{break}} or {{continue}} inside range."""

    kind: str


# ---------------------------------------------------------------- parser

class _Parser:
    """Recursive-descent parser over the lexed pieces."""

    def __init__(self, src: str, funcs: dict[str, Callable[..., Any]]) -> None:
        self.src = src
        self.funcs = funcs
        self.pieces = _lex(src)
        self.i = 0
        self.range_depth = 0

    def error(self, pos: int, msg: str) -> TemplateError:
        """A parse error carrying Go's "template: :LINE: msg" prefix."""
        return TemplateError(f"template: {NAME}:{_line_of(self.src, pos)}: {msg}")

    def parse(self) -> ListNode:
        """Parse the whole template."""
        body, stop = self.parse_list()
        if stop is not None:
            raise self.error(stop.pos, f"unexpected {{{{{stop.tokens[0].text}}}}}")
        return body

    def parse_list(self) -> tuple[ListNode, _Piece | None]:
        """Parse nodes until end of input or an {{else}}/{{end}} piece (returned)."""
        out = ListNode(0)
        while self.i < len(self.pieces):
            piece = self.pieces[self.i]
            self.i += 1
            if piece.text is not None:
                out.nodes.append(TextNode(piece.pos, piece.text))
                continue
            toks = piece.tokens
            if not toks:
                raise self.error(piece.pos, "missing value for command")
            head = toks[0]
            if head.kind == "keyword":
                if head.text in ("end", "else"):
                    return out, piece
                out.nodes.append(self.parse_keyword(piece))
            else:
                out.nodes.append(ActionNode(piece.pos, self.parse_pipe(toks, 0, len(toks), piece.pos,
                                                                     allow_decl=True)))
        return out, None

    def parse_keyword(self, piece: _Piece) -> Node:
        """Parse {{if}}, {{range}}, {{with}}, {{break}}, {{continue}}."""
        head = piece.tokens[0]
        if head.text in ("break", "continue"):
            if self.range_depth == 0:
                raise self.error(head.pos, f"{{{{{head.text}}}}} outside {{{{range}}}}")
            return LoopControlNode(head.pos, head.text)
        if head.text not in ("if", "range", "with"):
            raise self.error(head.pos, f"{head.text} is not supported by this template engine")
        return self.parse_branch(head.text, piece.tokens[1:], head.pos)

    def parse_branch(self, kind: str, toks: list[Token], pos: int) -> BranchNode:
        """Parse the pipeline, body and optional else (or else-if chain) of a branch."""
        toks = [t for t in toks] if toks else []
        while toks and toks[0].kind == "space":
            toks.pop(0)
        if not toks:
            raise self.error(pos, f"missing value for {kind}")
        pipe = self.parse_pipe(toks, 0, len(toks), pos, allow_decl=True)
        if kind == "range":
            self.range_depth += 1
        body, stop = self.parse_list()
        if kind == "range":
            self.range_depth -= 1
        if stop is None:
            raise self.error(len(self.src), "unexpected EOF")
        else_body = None
        if stop.tokens[0].text == "else":
            rest = [t for t in stop.tokens[1:] if t.kind != "space" or True]
            while rest and rest[0].kind == "space":
                rest.pop(0)
            if rest and rest[0].kind == "keyword" and rest[0].text in ("if", "with") and kind != "range":
                nested = self.parse_branch(rest[0].text, rest[1:], rest[0].pos)
                else_body = ListNode(stop.pos, [nested])
                return BranchNode(pos, kind, pipe, body, else_body)
            if rest:
                raise self.error(stop.pos, f"unexpected {rest[0].text!s} in else")
            else_body, stop2 = self.parse_list()
            if stop2 is None or stop2.tokens[0].text != "end":
                raise self.error(len(self.src), "expected end; found EOF" if stop2 is None else
                                 "expected end; found {{else}}")
        return BranchNode(pos, kind, pipe, body, else_body)

    def parse_pipe(self, toks: list[Token], a: int, b: int, pos: int, allow_decl: bool) -> PipeNode:
        """Parse tokens toks[a:b] as a pipeline."""
        decl: list[str] = []
        is_assign = False
        items = [t for t in toks[a:b]]
        if allow_decl:
            k = 0
            names = []
            while k < len(items):
                t = items[k]
                if t.kind == "space":
                    k += 1
                    continue
                if t.kind == "variable":
                    names.append(t.text)
                    k += 1
                    continue
                if t.kind == "comma" and names:
                    k += 1
                    continue
                if t.kind in ("declare", "assign") and names:
                    decl = names
                    is_assign = t.kind == "assign"
                    items = items[k + 1:]
                break
        cmds: list[CommandNode] = []
        current: list[Token] = []
        depth = 0
        for t in items:
            if t.kind == "lparen":
                depth += 1
            elif t.kind == "rparen":
                depth -= 1
            if t.kind == "pipe" and depth == 0:
                cmds.append(self.parse_command(current, pos))
                current = []
            else:
                current.append(t)
        cmds.append(self.parse_command(current, pos))
        return PipeNode(pos, decl, is_assign, cmds)

    def parse_command(self, toks: list[Token], pos: int) -> CommandNode:
        """Parse one command: space-separated operands."""
        args: list[Node] = []
        k = 0
        toks = [t for t in toks]
        while toks and toks[0].kind == "space":
            toks.pop(0)
        while toks and toks[-1].kind == "space":
            toks.pop()
        if not toks:
            raise self.error(pos, "missing value for command")
        while k < len(toks):
            t = toks[k]
            if t.kind == "space":
                k += 1
                continue
            node, k = self.parse_operand(toks, k)
            if k < len(toks) and toks[k].kind not in ("space",):
                raise self.error(toks[k].pos, f"unexpected {_describe(toks[k])} in operand")
            args.append(node)
        return CommandNode(args[0].pos, args)

    def parse_operand(self, toks: list[Token], k: int) -> tuple[Node, int]:
        """Parse a term plus any trailing .Field chain."""
        t = toks[k]
        node: Node
        if t.kind == "field":
            idents = [t.text]
            pos = t.pos
            k += 1
            if k < len(toks) and toks[k].kind == "field":
                pos = toks[k].pos  # Go's chain node takes the second field's position
            while k < len(toks) and toks[k].kind == "field":
                idents.append(toks[k].text)
                k += 1
            return FieldNode(pos, idents), k
        if t.kind == "variable":
            idents = []
            k += 1
            while k < len(toks) and toks[k].kind == "field":
                idents.append(toks[k].text)
                k += 1
            return VariableNode(t.pos, t.text, idents), k
        if t.kind == "lparen":
            depth = 1
            j = k + 1
            while j < len(toks) and depth:
                depth += {"lparen": 1, "rparen": -1}.get(toks[j].kind, 0)
                j += 1
            node = self.parse_pipe(toks, k + 1, j - 1, t.pos, allow_decl=False)
            k = j
        elif t.kind == "dot":
            node, k = DotNode(t.pos), k + 1
        elif t.kind in ("string", "rawstring"):
            node, k = LiteralNode(t.pos, _unquote(t.text)), k + 1
        elif t.kind == "char":
            node, k = LiteralNode(t.pos, ord(_unquote('"' + t.text[1:-1] + '"'))), k + 1
        elif t.kind == "number":
            node, k = LiteralNode(t.pos, _number(t.text, self.error(t.pos, f"bad number syntax: {t.text!r}"))), k + 1
        elif t.kind == "bool":
            node, k = LiteralNode(t.pos, t.text == "true"), k + 1
        elif t.kind == "nil":
            node, k = LiteralNode(t.pos, None), k + 1
        elif t.kind == "ident":
            if t.text not in self.funcs:
                raise self.error(t.pos, f'function "{t.text}" not defined')
            node, k = IdentifierNode(t.pos, t.text), k + 1
        else:
            raise self.error(t.pos, f"unexpected {_describe(t)} in command")
        idents = []
        while k < len(toks) and toks[k].kind == "field":
            idents.append(toks[k].text)
            k += 1
        if idents:
            node = ChainNode(node.pos, node, idents)
        return node, k


def _describe(t: Token) -> str:
    """How Go names a token in "unexpected X" errors."""
    return f'"{t.text}"' if t.kind not in ("space",) else "space"


def _unquote(text: str) -> str:
    """Go string literal (interpreted or raw) to its value."""
    if text.startswith("`"):
        return text[1:-1]
    return _json.loads(re.sub(r"\\([abfv']|x[0-9a-fA-F]{2})", _go_escape, text))


def _go_escape(m: re.Match[str]) -> str:
    """Translate Go-only escapes to JSON-compatible ones."""
    s = m.group(1)
    table = {"a": "\\u0007", "b": "\\b", "f": "\\f", "v": "\\u000b", "'": "'"}
    return table[s] if s in table else "\\u00" + s[1:]


def _number(text: str, err: TemplateError) -> int | float:
    """Parse a Go numeric constant."""
    clean = text.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?0[xXbBoO].*", clean):
            return int(clean, 0)
        if re.fullmatch(r"[+-]?\d+", clean):
            return int(clean)
        return float(clean)
    except ValueError:
        raise err from None


# ---------------------------------------------------------------- printing values like Go's fmt

def go_str(value: Any, top: bool = True) -> str:
    """fmt.Sprint of a value: maps as map[k:v], slices as [a b], nil as <no value>/<nil>."""
    if value is None:
        return "<no value>" if top else "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{go_str(k, False)}:{go_str(v, False)}" for k, v in items) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_str(v, False) for v in value) + "]"
    return str(value)


def go_float(value: float) -> str:
    """fmt %v of a float64: shortest digits, exponent form when exp < -4 or exp >= 6 (strconv 'g', -1)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    from decimal import Decimal
    dec = Decimal(repr(value)).normalize()
    exp = dec.adjusted()
    if -4 <= exp < 6:
        return format(dec, "f")
    sign, digits, _ = dec.as_tuple()
    mant = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def go_json(value: Any) -> str:
    """Docker's `json` template function: compact JSON, HTML characters not escaped."""
    if hasattr(value, "to_json"):
        # Go re-encodes a MarshalJSON result with HTML escaping on.
        text = _json.dumps(value.to_json(), separators=(",", ":"), ensure_ascii=False, default=_json_default)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    """JSON-encode template context objects by their to_json()."""
    if hasattr(obj, "to_json"):
        return obj.to_json()
    raise TypeError(f"cannot encode {type(obj).__name__}")


_PRINTF_RE = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def go_sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the common verbs (%s %v %d %q %t %f %g %e %x %X %c %%)."""
    out: list[str] = []
    pos = 0
    argi = 0
    for m in _PRINTF_RE.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_format_one(flags, width, prec, verb, arg))
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{type(a).__name__}={go_str(a, False)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_one(flags: str, width: str | None, prec: str | None, verb: str, arg: Any) -> str:
    """Format a single printf argument."""
    if verb in "sv":
        text = go_str(arg, False) if arg is not None else "<nil>"
        if prec is not None:
            text = text[:int(prec)]
    elif verb == "q":
        text = _json.dumps(go_str(arg, False), ensure_ascii=False)
    elif verb == "t":
        text = go_str(arg, False)
    elif verb == "c":
        text = chr(arg) if isinstance(arg, int) else f"%!c({go_str(arg, False)})"
    elif verb in "dxXob" and isinstance(arg, int) and not isinstance(arg, bool):
        text = format(arg, {"d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[verb])
        if "+" in flags and arg >= 0 and verb == "d":
            text = "+" + text
    elif verb in "xX" and isinstance(arg, str):
        text = arg.encode().hex()
        text = text.upper() if verb == "X" else text
    elif verb in "feEgG" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        p = "" if prec is None and verb in "gG" else "." + (prec if prec is not None else "6")
        text = format(float(arg), p + verb)
    else:
        return f"%!{verb}({type(arg).__name__}={go_str(arg, False)})"
    if width and width != "*":
        w = int(width)
        if "-" in flags:
            text = text.ljust(w)
        elif "0" in flags and verb not in "sqv":
            text = text.rjust(w, "0")
        else:
            text = text.rjust(w)
    return text


# ---------------------------------------------------------------- functions

def _truth(value: Any) -> bool:
    """Go template truthiness: false, 0, nil and empty collections are false."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def _index(item: Any, *keys: Any) -> Any:
    """Go's index: successive map or slice lookups."""
    for key in keys:
        if item is None:
            raise TemplateError("index of untyped nil")
        if isinstance(item, dict):
            if key in item:
                item = item[key]
            else:
                item = "" if all(isinstance(v, str) for v in item.values()) else None
        elif isinstance(item, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(f"cannot index slice/array with type {type(key).__name__}")
            if not 0 <= key < len(item):
                raise TemplateError(f"index out of range: {key}")
            item = item[key] if not isinstance(item, str) else ord(item[key])
        else:
            raise TemplateError(f"can't index item of type {type(item).__name__}")
    return item


def _len(item: Any) -> int:
    """Go's len for strings, slices and maps."""
    if isinstance(item, (str, list, tuple, dict)):
        return len(item)
    raise TemplateError(f"len of type {type(item).__name__}")


def _basic_kind(v: Any) -> str:
    """Kind class used by comparisons."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if v is None:
        return "nil"
    return "other"


def _eq(a: Any, *bs: Any) -> bool:
    """Go's eq: true if a equals any of bs."""
    for b in bs:
        ka, kb = _basic_kind(a), _basic_kind(b)
        if ka != kb and not (ka in ("int", "float") and kb in ("int", "float")):
            if "nil" in (ka, kb):
                if a is b:
                    return True
                continue
            raise TemplateError("incompatible types for comparison")
        if a == b:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    """Go's lt on basic kinds."""
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka in ("other", "nil", "bool") or kb in ("other", "nil", "bool"):
        raise TemplateError("invalid type for comparison")
    if ka != kb and not (ka in ("int", "float") and kb in ("int", "float")):
        raise TemplateError("incompatible types for comparison")
    return bool(a < b)


def _title(s: str) -> str:
    """strings.Title: upper-case the first letter of each space-separated word."""
    return re.sub(r"(^|(?<=[^\w]))(\w)", lambda m: m.group(2).upper(), s)


def _pad(source: str, prefix: int, suffix: int) -> str:
    """Docker's pad: surround a non-empty string with spaces."""
    return source if source == "" else " " * prefix + source + " " * suffix


def _truncate(source: str, length: int) -> str:
    """Docker's truncate: first `length` characters."""
    return source if len(source) < length else source[:length]


def _slice(item: Any, *idx: int) -> Any:
    """Go's slice builtin."""
    if len(idx) > 2:
        return item[idx[0]:idx[1]]
    return item[slice(*idx)] if idx else item


def _print(*args: Any) -> str:
    """fmt.Sprint: spaces only between operands when neither is a string."""
    out = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(a, False))
    return "".join(out)


GO_FUNCS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: next((x for x in a if not _truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truth(x)), a[-1]),
    "not": lambda a: not _truth(a),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": _print,
    "printf": go_sprintf,
    "println": lambda *a: " ".join(go_str(x, False) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _lt(a, b),
    "html": lambda *a: _print(*a).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    .replace('"', "&#34;").replace("'", "&#39;"),
    "urlquery": lambda *a: __import__("urllib.parse").parse.quote_plus(_print(*a)),
    "js": lambda *a: _json.dumps(_print(*a))[1:-1],
}

BASIC_FUNCS: dict[str, Callable[..., Any]] = {
    **GO_FUNCS,
    # Docker's additions (cli/templates/templates.go)
    "json": go_json,
    "split": lambda s, sep: s.split(sep) if sep else list(s),
    "join": lambda items, sep: sep.join(go_str(i, False) for i in items),
    "title": _title,
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "pad": _pad,
    "truncate": _truncate,
}

HEADER_FUNCS: dict[str, Callable[..., Any]] = {
    "json": lambda v: v,
    "split": lambda v, _sep: v,
    "join": lambda v, _sep: v,
    "title": lambda v: v,
    "lower": lambda v: v,
    "upper": lambda v: v,
    "truncate": lambda v, _n: v,
    "pad": lambda v, _a, _b: v,
}


# ---------------------------------------------------------------- execution

class _Break(Exception):
    """{{break}} unwinding to the enclosing range."""


class _Continue(Exception):
    """{{continue}} unwinding to the enclosing range."""


class Template:
    """A parsed template; `execute(data)` renders it."""

    def __init__(self, src: str, missing_key_error: bool = False,
                 funcs: dict[str, Callable[..., Any]] | None = None,
                 base: dict[str, Callable[..., Any]] | None = None) -> None:
        self.src = src
        self.missing_key_error = missing_key_error
        self.funcs = dict(BASIC_FUNCS if base is None else base)
        if funcs:
            self.funcs.update(funcs)
        self.root = _Parser(src, self.funcs).parse()

    def execute(self, data: Any) -> str:
        """Render the template with `data` as dot; raises TemplateError like Go's."""
        out: list[str] = []
        self._walk(self.root, data, [("$", data)], out)
        return "".join(out)

    def _err(self, node: Node, msg: str) -> TemplateError:
        """An execution error formatted as Go's `template: :L:C: executing "" at <...>: msg`."""
        before = self.src[:node.pos]
        line = before.count("\n") + 1
        col = node.pos - (before.rfind("\n") + 1)
        return TemplateError(f'template: {NAME}:{line}:{col}: executing "{NAME}" at <{self._text(node)}>: {msg}')

    def _text(self, node: Node) -> str:
        """Source text of a node, for error messages."""
        if isinstance(node, FieldNode):
            return "." + ".".join(node.idents)
        if isinstance(node, VariableNode):
            return node.name + "".join("." + i for i in node.idents)
        if isinstance(node, IdentifierNode):
            return node.name
        if isinstance(node, CommandNode):
            return " ".join(self._text(a) for a in node.args)
        if isinstance(node, PipeNode):
            return " | ".join(self._text(c) for c in node.cmds)
        if isinstance(node, ChainNode):
            return "(" + self._text(node.node) + ")" + "".join("." + i for i in node.idents)
        if isinstance(node, LiteralNode):
            return _json.dumps(node.value) if isinstance(node.value, str) else go_str(node.value)
        return "."

    def _walk(self, node: Node, dot: Any, vars_: list[tuple[str, Any]], out: list[str]) -> None:
        """Execute one node, appending output."""
        if isinstance(node, ListNode):
            mark = len(vars_)
            for child in node.nodes:
                self._walk(child, dot, vars_, out)
            del vars_[mark:]
        elif isinstance(node, TextNode):
            out.append(node.text)
        elif isinstance(node, ActionNode):
            value = self._pipe(node.pipe, dot, vars_)
            if not node.pipe.decl:
                out.append(go_str(value))
        elif isinstance(node, BranchNode):
            self._branch(node, dot, vars_, out)
        elif isinstance(node, LoopControlNode):
            raise _Break() if node.kind == "break" else _Continue()

    def _branch(self, node: BranchNode, dot: Any, vars_: list[tuple[str, Any]], out: list[str]) -> None:
        """Execute if/with/range."""
        mark = len(vars_)
        if node.kind != "range":
            value = self._pipe(node.pipe, dot, vars_)
            if _truth(value):
                self._walk(node.body, value if node.kind == "with" else dot, vars_, out)
            elif node.else_body is not None:
                self._walk(node.else_body, dot, vars_, out)
            del vars_[mark:]
            return
        value = self._pipe(PipeNode(node.pipe.pos, [], False, node.pipe.cmds), dot, vars_)
        items = self._range_items(node, value)
        if not items:
            if node.else_body is not None:
                self._walk(node.else_body, dot, vars_, out)
            return
        for key, elem in items:
            if node.pipe.decl:
                if len(node.pipe.decl) == 1:
                    vars_.append((node.pipe.decl[0], elem))
                else:
                    vars_.append((node.pipe.decl[0], key))
                    vars_.append((node.pipe.decl[1], elem))
            try:
                self._walk(node.body, elem, vars_, out)
            except _Continue:
                pass
            except _Break:
                del vars_[mark:]
                break
            del vars_[mark:]

    def _range_items(self, node: BranchNode, value: Any) -> list[tuple[Any, Any]]:
        """Key/element pairs a range iterates over."""
        if value is None:
            return []
        if isinstance(value, dict):
            return [(k, value[k]) for k in sorted(value)]
        if isinstance(value, (list, tuple)):
            return list(enumerate(value))
        if isinstance(value, int) and not isinstance(value, bool):
            return [(i, i) for i in range(value)]
        raise self._err(node.pipe, f"range can't iterate over {go_str(value)}")

    def _pipe(self, pipe: PipeNode, dot: Any, vars_: list[tuple[str, Any]]) -> Any:
        """Evaluate a pipeline, binding declared variables."""
        value: Any = _NOFINAL
        for cmd in pipe.cmds:
            value = self._command(cmd, dot, vars_, value)
        for name in pipe.decl:
            if pipe.is_assign:
                for i in range(len(vars_) - 1, -1, -1):
                    if vars_[i][0] == name:
                        vars_[i] = (name, value)
                        break
            else:
                vars_.append((name, value))
        return value

    def _command(self, cmd: CommandNode, dot: Any, vars_: list[tuple[str, Any]], final: Any) -> Any:
        """Evaluate one command, with `final` the previous pipeline stage's value."""
        first = cmd.args[0]
        rest = cmd.args[1:]
        if isinstance(first, IdentifierNode):
            fn = self.funcs[first.name]
            args = [self._arg(a, dot, vars_) for a in rest]
            if final is not _NOFINAL:
                args.append(final)
            try:
                return fn(*args)
            except TemplateError as exc:
                raise self._err(first, f"error calling {first.name}: {exc}") from None
            except (TypeError, AttributeError, ValueError) as exc:
                raise self._err(first, f"error calling {first.name}: {exc}") from None
        if isinstance(first, FieldNode):
            return self._chain(first, dot, first.idents, rest, dot, vars_, final)
        if isinstance(first, VariableNode):
            return self._chain(first, self._var(first, vars_), first.idents, rest, dot, vars_, final)
        if isinstance(first, ChainNode):
            base = self._arg(first.node, dot, vars_)
            return self._chain(first, base, first.idents, rest, dot, vars_, final)
        if rest or final is not _NOFINAL:
            raise self._err(first, f"can't give argument to non-function {self._text(first)}")
        return self._arg(first, dot, vars_)

    def _arg(self, node: Node, dot: Any, vars_: list[tuple[str, Any]]) -> Any:
        """Evaluate an argument node."""
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, LiteralNode):
            return node.value
        if isinstance(node, FieldNode):
            return self._chain(node, dot, node.idents, [], dot, vars_, _NOFINAL)
        if isinstance(node, VariableNode):
            return self._chain(node, self._var(node, vars_), node.idents, [], dot, vars_, _NOFINAL)
        if isinstance(node, ChainNode):
            return self._chain(node, self._arg(node.node, dot, vars_), node.idents, [], dot, vars_, _NOFINAL)
        if isinstance(node, PipeNode):
            return self._pipe(node, dot, vars_)
        if isinstance(node, IdentifierNode):
            return self._command(CommandNode(node.pos, [node]), dot, vars_, _NOFINAL)
        raise self._err(node, "can't evaluate")

    def _var(self, node: VariableNode, vars_: list[tuple[str, Any]]) -> Any:
        """Look a variable up, innermost first."""
        for name, value in reversed(vars_):
            if name == node.name:
                return value
        raise self._err(node, f"undefined variable: {node.name}")

    def _chain(self, node: Node, receiver: Any, idents: list[str], args: list[Node], dot: Any,
               vars_: list[tuple[str, Any]], final: Any) -> Any:
        """Walk .A.B.C from receiver; the last link may be a method taking args."""
        for i, name in enumerate(idents):
            last = i == len(idents) - 1
            call_args = [self._arg(a, dot, vars_) for a in args] if last else []
            if last and final is not _NOFINAL:
                call_args.append(final)
            receiver = self._field(node, receiver, name, call_args, last and (bool(args) or final is not _NOFINAL))
        if not idents and (args or final is not _NOFINAL):
            raise self._err(node, f"can't give argument to non-function {self._text(node)}")
        return receiver

    def _field(self, node: Node, receiver: Any, name: str, args: list[Any], has_args: bool) -> Any:
        """Evaluate one field or method on receiver."""
        if isinstance(receiver, dict):
            if has_args:
                raise self._err(node, f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missing_key_error:
                raise self._err(node, f'map has no entry for key "{name}"')
            return None
        if receiver is None:
            raise self._err(node, f"nil pointer evaluating interface {{}}.{name}")
        if name.startswith("_") or not hasattr(receiver, name):
            raise self._err(node, f"can't evaluate field {name} in type {_type_name(receiver)}")
        attr = getattr(receiver, name)
        if callable(attr):
            try:
                return attr(*args)
            except TypeError as exc:
                raise self._err(node, f"wrong number of args for {name}: {exc}") from None
        if has_args:
            raise self._err(node, f"{name} has arguments but cannot be invoked as function")
        return attr


_NOFINAL = object()


def _type_name(value: Any) -> str:
    """Go type name for error messages: objects may set `go_type`."""
    go_type = getattr(value, "go_type", None)
    if go_type:
        return str(go_type)
    return {str: "string", int: "int", float: "float64", bool: "bool", list: "[]interface {}"}.get(
        type(value), type(value).__name__)


def parse(src: str, missing_key_error: bool = False) -> Template:
    """Parse a template, raising TemplateError("template: :1: ...") on bad syntax."""
    return Template(src, missing_key_error=missing_key_error)
