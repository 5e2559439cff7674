"""The validation layer on its own: Go's words for wrong types, int64 overflow, NUL bytes, lone surrogates,
nesting, case-insensitive fields; the packaged schema matches the spec; and it is cheap."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockyard.errors import InvalidParameter
from dockyard.server.app import split_version
from dockyard.server.validation import Validator, route_key
from dockyard.util.apitypes import SCHEMA_FILE, image_config, load_schema
from dockyard.util import jsonsafe

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO.parent / "shared" / "specs" / "docker-engine-api-v1.45.yaml"
CREATE = load_schema().operations["POST /containers/create"]


def refused(op, text: str | bytes) -> str:
    with pytest.raises(InvalidParameter) as info:
        op.check(jsonsafe.loads(text, depth_check=False))
    return info.value.message


@pytest.mark.parametrize("body, message", [
    ('{"Image":"busybox","Labels":{"a":1}}',
     "json: cannot unmarshal number into Go struct field CreateRequest.Labels of type string"),
    ('{"Image":5}', "json: cannot unmarshal number into Go struct field CreateRequest.Image of type string"),
    ('{"HostConfig":{"Memory":99999999999999999999}}',
     "json: cannot unmarshal number 99999999999999999999 into Go struct field HostConfig.HostConfig.Memory "
     "of type int64"),
    ('{"HostConfig":{"Memory":9223372036854775808}}',
     "json: cannot unmarshal number 9223372036854775808 into Go struct field HostConfig.HostConfig.Memory "
     "of type int64"),
    ('{"HostConfig":{"CpuShares":-9223372036854775809}}',
     "json: cannot unmarshal number -9223372036854775809 into Go struct field HostConfig.HostConfig.CpuShares "
     "of type int64"),
    ('{"HostConfig":{"Memory":1.5}}',
     "json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ('{"HostConfig":{"BlkioWeight":70000}}',
     "json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"),
    ('{"HostConfig":{"Privileged":"yes"}}',
     "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Privileged of type bool"),
    ('{"Cmd":[1]}', "json: cannot unmarshal number into Go struct field CreateRequest.Cmd of type string"),
    ('{"Env":"A=1"}', "json: cannot unmarshal string into Go struct field CreateRequest.Env of type []string"),
    ('{"ExposedPorts":{"80/tcp":5}}',
     "json: cannot unmarshal number into Go struct field CreateRequest.ExposedPorts of type struct {}"),
    ('{"NetworkingConfig":{"EndpointsConfig":{"x":{"Aliases":[1]}}}}',
     "json: cannot unmarshal number into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig."
     "Aliases of type string"),
    ('{"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":80}]}}}',
     "json: cannot unmarshal number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type "
     "string"),
    ('[]', "json: cannot unmarshal array into Go value of type container.CreateRequest"),
    ('{"labels":{"a":1}}',  # Go matches field names case-insensitively, so this is Labels
     "json: cannot unmarshal number into Go struct field CreateRequest.labels of type string"),
])
def test_wrong_types_in_go_words(body: str, message: str) -> None:
    assert refused(CREATE, body) == message


@pytest.mark.parametrize("body", [
    '{"Image":"a\\u0000b"}', '{"Image":"busybox","Env":["A=\\u0000"]}', '{"Labels":{"a\\u0000":"x"}}',
    '{"Image":"\\ud800"}', '{"Labels":{"\\udfff":"x"}}', '{"Junk":{"deeper":["\\ud800"]}}',
    '{"Junk":' + "[" * 150 + "]" * 150 + "}", "[" * 100000 + "]" * 100000,
    '{"a":NaN}', '{"a":Infinity}', '{"a":1e999}', b'{"Image":"\xff"}', '{"a":1' + "0" * 5000 + "}",
])
def test_unstorable_values_are_refused(body: str | bytes) -> None:
    refused(CREATE, body)


def test_valid_bodies_pass() -> None:
    for body in ('{"Image":"busybox","Cmd":"true","Entrypoint":null,"HostConfig":{"CapAdd":"NET_ADMIN"}}',
                 '{"Image":"busybox","Labels":{"a":"b"},"HostConfig":{"Memory":9223372036854775807,'
                 '"Ulimits":[{"Name":"nofile","Soft":1,"Hard":2}]},"Unknown":{"x":[1,2,{"y":null}]}}',
                 "null", '{"Image":"caf\\u00e9","Labels":{"\\ud83d\\ude00":"emoji"}}'):
        CREATE.check(jsonsafe.loads(body, depth_check=False))


def test_fields_are_renamed_as_go_matches_them() -> None:
    """Go's decoder matches struct fields case-insensitively (an exact match first, the last key winning):
    services get the field's own name; map keys (labels) keep theirs."""
    body = jsonsafe.loads('{"image":"busybox","hostconfig":{"memory":5,"PORTBINDINGS":{"80/tcp":[{"hostport":"8"}]}},'
                          '"Labels":{"lower":"x"},"cmd":["a"],"Cmd":["b"],"CMD":["c"]}', depth_check=False)
    CREATE.check(body)
    assert body == {"Image": "busybox", "HostConfig": {"Memory": 5, "PortBindings": {"80/tcp": [{"HostPort": "8"}]}},
                    "Labels": {"lower": "x"}, "Cmd": ["c"]}
    exec_config = jsonsafe.loads('{"detachKeys":"ctrl-x","tty":true,"cmd":["sh"]}', depth_check=False)
    load_schema().operations["POST /containers/{}/exec"].check(exec_config)
    assert exec_config == {"DetachKeys": "ctrl-x", "Tty": True, "Cmd": ["sh"]}


def test_other_operations_and_query_json() -> None:
    ops = load_schema().operations
    assert refused(ops["POST /commit"], '{"Labels":{"a":1}}') == \
        "json: cannot unmarshal number into Go struct field Config.Labels of type string"
    assert refused(ops["POST /networks/create"], '{"Name":"n","IPAM":{"Options":{"a":1}}}') == \
        "json: cannot unmarshal number into Go struct field IPAM.IPAM.Options of type string"
    assert refused(ops["POST /volumes/create"], '{"Labels":[]}') == \
        "json: cannot unmarshal array into Go struct field CreateOptions.Labels of type map[string]string"
    assert refused(ops["POST /containers/{}/update"], '{"Memory":1e30}').startswith(
        "json: cannot unmarshal number 1e+30 into Go struct field UpdateConfig.Memory of type int64")
    assert route_key("POST", "/images/{name:path}/push") == "POST /images/{}/push"


def test_version_prefixes() -> None:
    assert split_version("/v1.40.1/containers/json") == ("1.40.1", "/containers/json")
    assert split_version("/v01.045/x") == ("1.45", "/x")
    for path in ("/v1.4444444444444444444/containers/json", "/v1." + "4" * 10000 + "/x", "/v2/x", "/v./x"):
        with pytest.raises(InvalidParameter):
            split_version(path)


def test_schema_is_what_the_generator_makes_of_the_spec(tmp_path: Path) -> None:
    """apischema.json is generated, not edited: regenerating it from the spec gives the same file."""
    if not SPEC.is_file():
        pytest.skip("the Engine API spec is not beside the repository")
    pytest.importorskip("yaml")
    script = REPO / "scripts" / "gen_apischema.py"
    source = script.read_text().replace('OUT = REPO / "src" / "dockyard" / "util" / "apischema.json"',
                                        f'OUT = Path({str(tmp_path / "out.json")!r})')
    (tmp_path / "gen.py").write_text(source)
    subprocess.run([sys.executable, str(tmp_path / "gen.py"), str(SPEC)], check=True, capture_output=True)
    assert json.loads((tmp_path / "out.json").read_text()) == json.loads(SCHEMA_FILE.read_text())


def test_validation_costs_well_under_a_millisecond_per_create() -> None:
    """A docker CLI `run` body (about 2 KB): decode + check, against plain json.loads."""
    body = json.dumps({
        "Hostname": "", "User": "", "AttachStdout": True, "AttachStderr": True, "Tty": False, "Env": ["A=1"],
        "Cmd": ["sh", "-c", "true"], "Image": "busybox", "Volumes": {}, "Labels": {"a": "b"},
        "HostConfig": {"Binds": None, "LogConfig": {"Type": "", "Config": {}}, "NetworkMode": "default",
                       "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                       "AutoRemove": True, "ConsoleSize": [24, 80], "Dns": [], "Privileged": False,
                       "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "BlkioWeight": 0, "BlkioWeightDevice": [],
                       "Devices": [], "MemorySwappiness": None, "Ulimits": None, "MaskedPaths": None},
        "NetworkingConfig": {"EndpointsConfig": {"default": {"IPAMConfig": None, "Aliases": None,
                                                             "MacAddress": "", "DriverOpts": None}}},
    }).encode()
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        CREATE.check(jsonsafe.loads(body, depth_check=False))
    checked = (time.perf_counter() - start) / runs
    start = time.perf_counter()
    for _ in range(runs):
        json.loads(body)
    plain = (time.perf_counter() - start) / runs
    print(f"\nvalidated create body: {checked * 1e6:.1f} us (json.loads alone {plain * 1e6:.1f} us)")
    assert checked - plain < 0.0005


def test_validator_routes_are_cached() -> None:
    validator = Validator()
    first = validator.rules("POST", "/containers/create")
    assert first[0] is not None and validator.rules("POST", "/containers/create") is first
    assert validator.rules("GET", "/containers/json") == (None, None)


@pytest.mark.parametrize("change, words", [
    ({"config": {"Labels": {"a": 1}}}, "Go struct field ImageConfig.config.Labels of type string"),
    ({"config": {"Env": "A=1"}}, "of type []string"),
    ({"created": "yesterday"}, 'parsing time "yesterday"'),
    ({"created": "2024-13-45T00:00:00Z"}, "parsing time"),
    ({"history": [{"created": 5}]}, "cannot unmarshal number"),
    ({"config": []}, "cannot unmarshal array"),
    ({"config": {"StopTimeout": 1e99}}, "of type int"),
    ({"rootfs": {"type": "layers", "diff_ids": [1]}}, "RootFS.rootfs.diff_ids of type string"),
])
def test_image_configs_docker_cannot_decode_are_refused(change: dict, words: str) -> None:
    config = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00.5Z",
              "rootfs": {"type": "layers", "diff_ids": []}, "config": {"Cmd": ["true"], "Labels": {"a": "b"}}}
    assert image_config(json.dumps(config).encode())["os"] == "linux"
    config.update(change)
    with pytest.raises(InvalidParameter) as info:
        image_config(json.dumps(config).encode())
    assert info.value.message.startswith("invalid image config: ") and words in info.value.message
    for raw in (b'{"config":{"Labels":{"a":NaN}}}', b"[" * 5000, b'{"x":' * 200 + b"1" + b"}" * 200):
        with pytest.raises(InvalidParameter):
            image_config(raw)
