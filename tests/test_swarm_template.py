"""Templated secrets and configs rendered for a task: swarmkit's context and functions over Go's text/template."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.cluster import templating
from dockyard.cluster.templating import TemplateError

TASK = {"ID": "t1", "ServiceID": "svc1", "NodeID": "node1", "Slot": 2,
        "Spec": {"ContainerSpec": {"Env": ["MODE=prod", "EMPTY="],
                                   "Secrets": [{"SecretID": "s1", "File": {"Name": "pw"}}],
                                   "Configs": [{"ConfigID": "c1", "File": {"Name": "/etc/base.conf"}}]}}}
SERVICE = {"Spec": {"Name": "web", "Labels": {"tier": "front", "a": "1"}}}
NODE = {"Description": {"Hostname": "box", "Platform": {"Architecture": "x86_64", "OS": "linux"}}}
STORED = {("secrets", "s1"): b"hunter2", ("configs", "c1"): b"base={{.Service.Name}}"}


def render(text: str, task: dict[str, Any] = TASK) -> str:
    """The text rendered for the task."""
    return templating.render({"Name": "golang"}, text.encode(), task, SERVICE, NODE,
                             lambda kind, object_id: STORED[(kind, object_id)]).decode()


@pytest.mark.parametrize("text, expected", [
    ("plain {text}", "plain {text}"),
    ("{{.Service.Name}}-{{.Service.ID}}-{{.Task.Slot}}-{{.Task.Name}}-{{.Task.ID}}", "web-svc1-2-web.2.t1-t1"),
    ("{{ .Node.ID }} {{ .Node.Hostname }} {{.Node.Platform.OS}}/{{.Node.Platform.Architecture}}",
     "node1 box linux/x86_64"),
    ('{{.Service.Labels.tier}} {{index .Service.Labels "tier"}}|{{index .Service.Labels "none"}}|', "front front||"),
    ("{{.Service.Labels}} {{.Node.Platform}}", "map[a:1 tier:front] {x86_64 linux}"),
    ("a  {{- .Task.ID -}}  \n b{{/* a comment */}}", "at1b"),
    ('{{join ", " "a" "b"}}', "a, b"),
    ('{{env "MODE"}}:{{env "EMPTY"}}:{{env "MISSING"}}:', "prod:::"),
    ('{{secret "pw"}} {{config "/etc/base.conf"}}', "hunter2 base={{.Service.Name}}"),
    ('{{if eq .Service.Name "web"}}yes{{else}}no{{end}} {{range $k, $v := .Service.Labels}}{{$k}}={{$v}};{{end}}',
     "yes a=1;tier=front;"),
    ('{{printf "%s-%d" .Service.Name 7}}', "web-7"),
])
def test_rendered_as_go_renders_it(text: str, expected: str) -> None:
    assert render(text) == expected


def test_a_task_without_slot_is_named_by_its_node() -> None:
    assert render("{{.Task.Slot}} {{.Task.Name}}", {**TASK, "Slot": 0}) == "node1 web.node1.t1"


@pytest.mark.parametrize("text, error", [
    ("{{.Service.Nope}}", 'template: expansion:1:10: executing "expansion" at <.Service.Nope>: can\'t evaluate '
                          "field Nope"),
    ("{{.Service.Labels.none}}", 'map has no entry for key "none"'),
    ('{{json .Service}}', 'function "json" not defined'),
    ('{{secret "other"}}', "error calling secret: secret target other not found"),
    ("{{.Service.Name", "template: expansion:1: unclosed action"),
])
def test_templates_that_cannot_render_fail(text: str, error: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render(text)
    assert error in raised.value.message


def test_only_the_golang_driver_is_known() -> None:
    with pytest.raises(TemplateError, match="unrecognized template type"):
        templating.render({"Name": "jinja"}, b"x", TASK, SERVICE, NODE, lambda *_: b"")


def test_container_spec_templates_are_expanded_as_swarmkits_agent_does() -> None:
    task = {**TASK, "Spec": {"ContainerSpec": {
        "Image": "busybox", "Hostname": "{{.Node.Hostname}}-{{.Task.Slot}}",
        "Env": ["SVC={{.Service.Name}}", "PLAIN=x", "BARE", 'J={{join "-" "a" "b"}}'],
        "Mounts": [{"Type": "volume", "Source": "data-{{.Task.Slot}}", "Target": "/srv/{{.Service.Name}}",
                    "VolumeOptions": {"Labels": {"svc": "{{.Service.ID}}"},
                                      "DriverConfig": {"Name": "local", "Options": {"o": "{{.Node.ID}}"}}}}]}}}
    expanded = templating.expand_container(task, SERVICE, NODE)["Spec"]["ContainerSpec"]
    assert expanded["Hostname"] == "box-2"
    assert expanded["Env"] == ["SVC=web", "PLAIN=x", "BARE", "J=a-b"]
    mount = expanded["Mounts"][0]
    assert (mount["Source"], mount["Target"]) == ("data-2", "/srv/web")
    assert mount["VolumeOptions"] == {"Labels": {"svc": "svc1"}, "DriverConfig": {"Name": "local",
                                                                                  "Options": {"o": "node1"}}}
    assert task["Spec"]["ContainerSpec"]["Hostname"] == "{{.Node.Hostname}}-{{.Task.Slot}}"  # the task unchanged
    plain = {**TASK, "Spec": {"ContainerSpec": {"Image": "busybox", "Env": ["A=1"], "Hostname": "h"}}}
    assert templating.expand_container(plain, SERVICE, NODE) is plain
    bad = {**TASK, "Spec": {"ContainerSpec": {"Image": "busybox", "Env": ["X={{.Nope}}"]}}}
    with pytest.raises(TemplateError) as raised:
        templating.expand_container(bad, SERVICE, NODE)
    assert raised.value.message.startswith('expanding env failed: expanding env "X={{.Nope}}": template: '
                                           'expansion:1:2: executing "expansion" at <.Nope>: can\'t evaluate field')
    with pytest.raises(TemplateError, match="^expanding hostname failed: "):
        templating.expand_container({**TASK, "Spec": {"ContainerSpec": {"Hostname": "{{env \"A\"}}"}}}, SERVICE, NODE)
