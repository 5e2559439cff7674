"""Go text/template subset: docker's real --format strings and Go's error wording."""

from __future__ import annotations

import pytest

from dockyard.util.gotemplate import TemplateError, Template, go_sprintf, parse

DATA = {"Id": "abc", "State": {"Status": "running", "Pid": 12}, "Config": {"Labels": {"a": "1", "b": "x"},
        "Env": ["A=1", "B=2"]}, "Mounts": [{"Source": "/s", "Destination": "/d"}], "F": 1.5, "G": 1e7, "N": None}


@pytest.mark.parametrize("src,expected", [
    ("{{.Id}}", "abc"),
    ("{{.State.Status}} {{.State.Pid}}", "running 12"),
    ('{{index .Config.Labels "a"}}|{{index .Config.Labels "zz"}}', "1|"),
    ("{{json .Config}}", '{"Labels":{"a":"1","b":"x"},"Env":["A=1","B=2"]}'),
    ("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "/s:/d "),
    ('{{if eq .State.Status "running"}}yes{{else}}no{{end}}', "yes"),
    ('{{if eq .State.Status "x"}}a{{else if .Id}}b{{end}}', "b"),
    ("{{with .State}}{{.Pid}}{{end}}", "12"),
    ("{{len .Config.Env}}", "2"),
    ('{{printf "%s-%5d|%q" .Id .State.Pid .Id}}', 'abc-   12|"abc"'),
    ("{{.Id | upper}}", "ABC"),
    ('{{join .Config.Env ","}}', "A=1,B=2"),
    ('{{- " a " -}}  x  {{- .Id}}', " a xabc"),
    ("{{.Missing}} {{.N}}", "<no value> <no value>"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=1;b=x;"),
    ("{{.Config}}", "map[Env:[A=1 B=2] Labels:map[a:1 b:x]]"),
    ("{{.F}} {{.G}}", "1.5 1e+07"),
    ("{{/* comment */}}z", "z"),
    ("{{if and .Id (ne .State.Pid 3)}}ok{{end}}", "ok"),
    ("{{(index .Mounts 0).Source}}", "/s"),
    ('{{split "a,b" ","}}', "[a b]"),
    ('{{title "hello world"}} {{lower "AB"}}', "Hello World ab"),
    ("{{truncate .Id 2}}{{pad .Id 1 2}}|", "ab abc  |"),
    ('{{range .Config.Env}}{{if eq . "B=2"}}{{break}}{{end}}{{.}}{{end}}', "A=1"),
    ("{{range .Nothing}}x{{else}}empty{{end}}", "empty"),
    ("{{$x := .Id}}{{$x}}", "abc"),
    ("{{lt 1 2}} {{gt 1 2}} {{not true}}", "true false false"),
])
def test_render(src: str, expected: str) -> None:
    assert parse(src).execute(DATA) == expected


@pytest.mark.parametrize("src,message", [
    ("{{.Id", "template: :1: unclosed action"),
    ("{{foo}}", 'template: :1: function "foo" not defined'),
    ("{{.Id}}{{end}}", "template: :1: unexpected {{end}}"),
    ("{{if .Id}}", "template: :1: unexpected EOF"),
])
def test_parse_errors(src: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse(src)
    assert str(info.value) == message


def test_missing_key_error_reads_like_docker_inspect() -> None:
    with pytest.raises(TemplateError) as info:
        parse("{{.State.Nope}}", missing_key_error=True).execute(DATA)
    assert str(info.value) == 'template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"'


def test_methods_and_unknown_fields_on_objects() -> None:
    class Row:
        go_type = "*formatter.ContainerContext"

        def ID(self) -> str:
            return "id1"

        def Label(self, name: str) -> str:
            return {"k": "v"}.get(name, "")

    assert parse('{{.ID}} {{.Label "k"}}').execute(Row()) == "id1 v"
    with pytest.raises(TemplateError) as info:
        parse("{{.Foo}}").execute(Row())
    assert str(info.value) == ('template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type '
                               '*formatter.ContainerContext')


def test_custom_functions_and_sprintf() -> None:
    assert Template("{{twice .Id}}", funcs={"twice": lambda s: s * 2}).execute(DATA) == "abcabc"
    assert go_sprintf("%-4s|%03d|%v|%x", "a", 7, [1, 2], 255) == "a   |007|[1 2]|ff"
