"""The Go text/template subset of swarm templates, and a templated secret/config rendered for a task."""

from __future__ import annotations

import pytest

from dockyard.cluster import templating
from dockyard.cluster.template import Struct, TemplateError, expand

DATA = Struct(Service=Struct(ID="svc1", Name="web", Labels={"tier": "front", "a": "1"}),
              Node=Struct(ID="node1", Hostname="box", Platform=Struct(Architecture="x86_64", OS="linux")),
              Task=Struct(ID="t1", Name="web.2.t1", Slot="2"))


@pytest.mark.parametrize("text, expected", [
    ("plain {text}", "plain {text}"),
    ("{{.Service.Name}}-{{.Task.Slot}}", "web-2"),
    ("{{ .Node.Hostname }} {{.Node.Platform.OS}}/{{.Node.Platform.Architecture}}", "box linux/x86_64"),
    ("{{.Service.Labels.tier}}", "front"),
    ('{{index .Service.Labels "tier"}}|{{index .Service.Labels "none"}}|', "front||"),
    ("{{.Service.Labels}} {{.Node.Platform}}", "map[a:1 tier:front] {x86_64 linux}"),
    ("a  {{- .Task.ID -}}  \n b", "at1b"),
    ("x{{/* a comment */}}y", "xy"),
    ('{{join ", " "a" "b"}} {{"q\\"\\n" | same}}', 'a, b q"\n'),
    ('{{env "HOME"}}:{{env "MISSING"}}:', "/root::"),
    ('{{"lit" | env}}', ""),
    ("{{`raw {{x}}`}}", "raw {{x}}"),
])
def test_expand(text: str, expected: str) -> None:
    functions = {"env": lambda name: {"HOME": "/root"}.get(name, ""), "same": lambda value: value}
    assert expand(text, DATA, functions) == expected


@pytest.mark.parametrize("text, error", [
    ("{{.Service.Nope}}", "can't evaluate field Nope"),
    ("{{.Service.Labels.none}}", 'map has no entry for key "none"'),
    ("{{if .Service.Name}}x{{end}}", "unsupported in swarm templates"),
    ("{{range .Service.Labels}}{{.}}{{end}}", "unsupported in swarm templates"),
    ("{{$x := 1}}", "unsupported in swarm templates"),
    ('{{printf "%s" .Service.Name}}', 'function "printf" not defined'),
    ("{{.Service.Name", "unclosed action"),
    ('{{secret "x"}}', 'function "secret" not defined'),
    ("{{.Service.Name 1}}", "can't give argument to non-function"),
])
def test_unsupported_or_wrong_templates_fail(text: str, error: str) -> None:
    with pytest.raises(TemplateError) as raised:
        expand(text, DATA, {})
    assert error in raised.value.message


def test_payload_rendered_for_a_task_with_its_env_secrets_and_configs() -> None:
    task = {"ID": "t1", "ServiceID": "svc1", "NodeID": "node1", "Slot": 2,
            "Spec": {"ContainerSpec": {"Env": ["MODE=prod"],
                                       "Secrets": [{"SecretID": "s1", "File": {"Name": "pw"}}],
                                       "Configs": [{"ConfigID": "c1", "File": {"Name": "/etc/base.conf"}}]}}}
    service = {"Spec": {"Name": "web", "Labels": {"tier": "front"}}}
    node = {"Description": {"Hostname": "box", "Platform": {"Architecture": "x86_64", "OS": "linux"}}}
    stored = {("secrets", "s1"): b"hunter2", ("configs", "c1"): b"base={{.Service.Name}}"}
    payload = (b'{{.Task.Name}} {{env "MODE"}} {{secret "pw"}} {{config "/etc/base.conf"}} '
               b"{{.Service.Labels.tier}}@{{.Node.Hostname}}")
    rendered = templating.render({"Name": "golang"}, payload, task, service, node,
                                 lambda kind, object_id: stored[(kind, object_id)])
    assert rendered == b"web.2.t1 prod hunter2 base={{.Service.Name}} front@box"
    with pytest.raises(TemplateError, match="secret target other not found"):
        templating.render({"Name": "golang"}, b'{{secret "other"}}', task, service, node, lambda *_: b"")
    with pytest.raises(TemplateError, match="unrecognized template type"):
        templating.render({"Name": "jinja"}, b"x", task, service, node, lambda *_: b"")
