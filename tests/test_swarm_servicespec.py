"""Service specs: what dockerd adds when it stores one, swarmkit's insertDefaults, and its validation texts."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.cluster import servicespec
from dockyard.errors import InvalidParameter, NotFound

NANO = 1_000_000_000
NETWORKS = {"appnet": "n" * 25}


def network_id(ref: str) -> str:
    """Resolve a network as the route does."""
    if ref in NETWORKS:
        return NETWORKS[ref]
    raise NotFound(f"network {ref} not found")


def sent(**extra: Any) -> dict[str, Any]:
    """What the Docker SDK sends for `services.create("busybox", name="web")`."""
    return {"Name": "web", "Labels": None, "Mode": None, "Networks": None, "EndpointSpec": None,
            "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Args": ["sleep", "60"]}}, **extra}


def test_create_adds_what_dockerd_adds() -> None:
    spec = servicespec.normalise(sent(), network_id)
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}
    assert spec["Labels"] == {}
    assert spec["TaskTemplate"] == {"ContainerSpec": {"Image": "busybox", "Args": ["sleep", "60"],
                                                      "Isolation": "default"},
                                    "ForceUpdate": 0, "Runtime": "container"}
    assert spec["EndpointSpec"] == {"Mode": "vip"}


def test_ports_networks_and_modes_are_completed() -> None:
    spec = servicespec.normalise(sent(
        Mode={"Global": {}},
        EndpointSpec={"Ports": [{"TargetPort": 80, "PublishedPort": 8080}]},
        TaskTemplate={"ContainerSpec": {"Image": "busybox"}, "Networks": [{"Target": "appnet", "Aliases": ["a"]}]}),
        network_id)
    assert spec["Mode"] == {"Global": {}}
    assert spec["EndpointSpec"] == {"Mode": "vip", "Ports": [{"TargetPort": 80, "PublishedPort": 8080,
                                                             "Protocol": "tcp", "PublishMode": "ingress"}]}
    assert spec["TaskTemplate"]["Networks"] == [{"Target": "n" * 25, "Aliases": ["a"]}]
    assert servicespec.normalise(sent(Mode={"Replicated": {}}), network_id)["Mode"] == {
        "Replicated": {"Replicas": 1}}
    assert servicespec.normalise(sent(Mode={"Replicated": {"Replicas": 0}}), network_id)["Mode"] == {
        "Replicated": {"Replicas": 0}}
    with pytest.raises(NotFound):
        servicespec.normalise(sent(TaskTemplate={"ContainerSpec": {"Image": "busybox"},
                                                 "Networks": [{"Target": "nope"}]}), network_id)


def test_a_service_without_a_name_gets_one() -> None:
    spec = servicespec.normalise(sent(Name=""), network_id)
    assert spec["Name"] and "_" in spec["Name"]
    servicespec.validate(spec)


def test_insert_defaults_fills_swarmkits_values_under_what_was_set() -> None:
    spec = servicespec.normalise(sent(UpdateConfig={"Parallelism": 2, "Order": "start-first"}), network_id)
    full = servicespec.with_defaults(spec)
    assert full["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"] == 10 * NANO
    assert full["TaskTemplate"]["ContainerSpec"]["DNSConfig"] == {}
    assert full["TaskTemplate"]["RestartPolicy"] == {"Condition": "any", "Delay": 5 * NANO, "MaxAttempts": 0}
    assert full["TaskTemplate"]["Resources"] == {} and full["TaskTemplate"]["Placement"] == {}
    assert full["UpdateConfig"] == {"Parallelism": 2, "FailureAction": "pause", "Monitor": 5 * NANO,
                                    "MaxFailureRatio": 0, "Order": "start-first"}
    assert full["RollbackConfig"] == {"Parallelism": 1, "FailureAction": "pause", "Monitor": 5 * NANO,
                                      "MaxFailureRatio": 0, "Order": "stop-first"}
    assert "RollbackConfig" not in spec and "StopGracePeriod" not in spec["TaskTemplate"]["ContainerSpec"]


@pytest.mark.parametrize("change,message", [
    ({"Name": "web server"}, "rpc error: code = InvalidArgument desc = name must be valid as a DNS name component"),
    ({"Name": "w" * 64}, "rpc error: code = InvalidArgument desc = name must be 63 characters or fewer"),
    ({"TaskTemplate": {"ContainerSpec": {"Image": ""}}},
     "rpc error: code = InvalidArgument desc = ContainerSpec: image reference must be provided"),
    ({"TaskTemplate": {"ContainerSpec": {"Image": "Busy:box:x"}}},
     'rpc error: code = InvalidArgument desc = ContainerSpec: "Busy:box:x" is not a valid repository/tag'),
    ({"TaskTemplate": {"ContainerSpec": {"Image": "busybox"}, "RestartPolicy": {"Delay": -1}}},
     "rpc error: code = InvalidArgument desc = TaskSpec: restart-delay cannot be negative"),
    ({"TaskTemplate": {"ContainerSpec": {"Image": "busybox"}, "RestartPolicy": {"Condition": "always"}}},
     'invalid RestartCondition: "always"'),
    ({"UpdateConfig": {"MaxFailureRatio": 2}},
     "rpc error: code = InvalidArgument desc = TaskSpec: update-maxfailureratio cannot be less than 0 or bigger "
     "than 1"),
    ({"UpdateConfig": {"FailureAction": "explode"}}, "unrecognized FailureAction explode"),
    ({"TaskTemplate": {"ContainerSpec": {"Image": "busybox"}, "Placement": {"Constraints": ["node.id"]}}},
     "rpc error: code = InvalidArgument desc = constraint expected one operator from ==, !="),
    ({"EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080},
                                 {"TargetPort": 81, "PublishedPort": 8080}]}},
     "rpc error: code = InvalidArgument desc = EndpointSpec: duplicate published ports provided"),
])
def test_validation_uses_swarmkits_texts(change: dict[str, Any], message: str) -> None:
    spec = servicespec.normalise(sent(**change), network_id)
    with pytest.raises(InvalidParameter) as raised:
        servicespec.validate(spec)
    assert raised.value.message == message


def test_a_valid_spec_passes() -> None:
    servicespec.validate(servicespec.normalise(sent(
        TaskTemplate={"ContainerSpec": {"Image": "busybox:1.36", "Mounts": [{"Target": "/data"}]},
                      "Placement": {"Constraints": ["node.role==manager"]}}), network_id))


def test_specs_render_as_gos_encoder() -> None:
    container = {"Image": "busybox", "Command": None, "TTY": False, "Init": False, "StopGracePeriod": 0,
                 "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 0},
                 "Secrets": [{"SecretID": "s1", "SecretName": "pw",
                              "File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 292}}],
                 "Labels": {}, "DNSConfig": {"Nameservers": ["8.8.8.8"], "Search": None}}
    spec = servicespec.normalise(sent(
        TaskTemplate={"ContainerSpec": container, "RestartPolicy": {"Condition": "on-failure", "MaxAttempts": 0},
                      "Placement": {"Constraints": [], "Preferences": [{"Spread": {"SpreadDescriptor": "x"}}]},
                      "ForceUpdate": 3},
        UpdateConfig={"Parallelism": 0, "FailureAction": "rollback", "Monitor": None}), network_id)
    assert spec["TaskTemplate"] == {
        "ContainerSpec": {"Image": "busybox", "Init": False, "StopGracePeriod": 0,
                          "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000},
                          "DNSConfig": {"Nameservers": ["8.8.8.8"]},
                          "Secrets": [{"File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 292},
                                       "SecretID": "s1", "SecretName": "pw"}],
                          "Isolation": "default"},
        "RestartPolicy": {"Condition": "on-failure", "MaxAttempts": 0},
        "Placement": {"Preferences": [{"Spread": {"SpreadDescriptor": "x"}}]},
        "ForceUpdate": 3, "Runtime": "container"}
    assert spec["UpdateConfig"] == {"Parallelism": 0, "FailureAction": "rollback", "MaxFailureRatio": 0,
                                    "Order": "stop-first"}
    assert list(spec) == ["Name", "Labels", "TaskTemplate", "Mode", "UpdateConfig", "EndpointSpec"]
    restarted = servicespec.normalise(sent(TaskTemplate={"ContainerSpec": {"Image": "busybox"},
                                                         "RestartPolicy": {"Delay": 0}}), network_id)
    assert restarted["TaskTemplate"]["RestartPolicy"] == {"Condition": "any", "Delay": 0, "MaxAttempts": 0}
    swagger_spelling = servicespec.render({"TaskTemplate": {"ContainerSpec": {"Image": "b", "HealthCheck": {
        "Test": ["NONE"]}}}})
    assert swagger_spelling["TaskTemplate"]["ContainerSpec"] == {"Image": "b", "Healthcheck": {"Test": ["NONE"]}}
    with pytest.raises(InvalidParameter, match="cannot unmarshal string into Go struct field"):
        servicespec.render({"TaskTemplate": {"ForceUpdate": "x"}})
