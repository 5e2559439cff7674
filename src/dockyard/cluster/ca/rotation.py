"""Root CA rotation (swarmkit's `controlapi/ca_rotation.go` and `ca/reconciler.go`) on the cluster object: a new
root — made here for `ForceRotate`, or given with `SigningCACert`/`SigningCAKey` — is cross-signed by the current
one and kept as `RootRotation` while nodes get certificates from it (their chains carry the cross-signed
intermediate, so nodes that still trust only the old root accept them); once every node's certificate comes from
the new issuer the new root replaces the old one and both join tokens are made again with its digest. The new
root's key lives with the other keys in the manager's key file (`rotation_ca_key`, then `ca_key`)."""

from __future__ import annotations

import copy
from typing import Any

from dockyard.cluster.ca.root import INVALID, RootCA, issuer_info, load_certs, same_cert
from dockyard.cluster.ca.tokens import new_token
from dockyard.errors import InvalidParameter, SystemError_

CA_KEY, ROTATION_KEY = "ca_key", "rotation_ca_key"


def signer(value: dict[str, Any], keys: dict[str, str]) -> tuple[RootCA, str]:
    """The root that signs node certificates now, and the intermediates its certificates carry."""
    rotation = value.get("RootRotation")
    if rotation:
        return RootCA(rotation["CACert"], _key_for(rotation["CACert"], keys)), rotation["CrossSignedCACert"]
    return RootCA(value["CACert"], _key_for(value["CACert"], keys)), ""


def _key_for(cert_pem: str, keys: dict[str, str]) -> str:
    """The CA key of the key file that belongs to `cert_pem` (a manager stopped between finishing a rotation and
    rewriting its key file still finds the new root's key under its rotation name)."""
    wanted = load_certs(cert_pem)[0].public_key()
    for name in (CA_KEY, ROTATION_KEY):
        if name in keys and RootCA("", keys[name]).private_key().public_key() == wanted:
            return keys[name]
    raise SystemError_("the key file holds no key of the swarm's root CA")


def desired_issuer(value: dict[str, Any]) -> dict[str, str]:
    """The issuer every node's certificate should have (the new root's while a rotation runs)."""
    wanted = (value.get("RootRotation") or {}).get("CACert") or value["CACert"]
    return issuer_info(load_certs(wanted)[0])


def cluster_tls_info(value: dict[str, Any]) -> dict[str, str]:
    """The swarm's TLSInfo (moby's SwarmFromGRPC): the current trust root, the desired issuer."""
    return {"TrustRoot": value["CACert"], **desired_issuer(value)}


def converged(value: dict[str, Any], node: dict[str, Any]) -> bool:
    """Whether a node's certificate comes from the desired issuer."""
    tls = (node.get("Description") or {}).get("TLSInfo") or {}
    wanted = desired_issuer(value)
    return all(tls.get(key) == wanted[key] for key in wanted)


def plan(value: dict[str, Any], keys: dict[str, str], ca_config: dict[str, Any]) -> tuple[dict[str, Any],
                                                                                             dict[str, str]]:
    """The cluster object and keys after a spec's CAConfig (swarmkit's validateCAConfig, local signing only)."""
    cert, key = ca_config.get("SigningCACert") or "", ca_config.get("SigningCAKey") or ""
    force = int(ca_config.get("ForceRotate") or 0)
    if key and not cert:
        raise InvalidParameter(f"{INVALID}if a signing CA key is provided, the signing CA cert must also be provided")
    if not cert:
        if int(value.get("LastForcedRotation") or 0) != force:
            return _begin(value, keys, RootCA.create(), force)
        return value, keys
    if not key:
        raise InvalidParameter(f"{INVALID}there must be at least one valid, reachable external CA corresponding to "
                               "the desired CA certificate")
    wanted = RootCA.given(cert, key)
    value, keys = copy.deepcopy(value), dict(keys)
    if same_cert(value["CACert"], cert):  # back to the current root: any rotation is abandoned
        value.pop("RootRotation", None)
        keys.pop(ROTATION_KEY, None)
        keys[CA_KEY] = key
        value["LastForcedRotation"] = force
        return value, keys
    if wanted.private_key().public_key() == load_certs(value["CACert"])[0].public_key():
        raise InvalidParameter(f"{INVALID}Cannot update to a cert with an identical key")
    rotation = value.get("RootRotation")
    if rotation and same_cert(rotation["CACert"], cert):  # the rotation in progress already goes there
        keys[ROTATION_KEY] = key
        value["LastForcedRotation"] = force
        return value, keys
    return _begin(value, keys, wanted, force)


def _begin(value: dict[str, Any], keys: dict[str, str], new: RootCA, force: int) -> tuple[dict[str, Any],
                                                                                          dict[str, str]]:
    """Start moving to `new` (a rotation in progress is replaced): the current root cross-signs it."""
    value, keys = copy.deepcopy(value), dict(keys)
    current = RootCA(value["CACert"], _key_for(value["CACert"], keys))
    value["RootRotation"] = {"CACert": new.cert_pem, "CrossSignedCACert": current.cross_sign(new.cert_pem)}
    value["LastForcedRotation"] = force
    keys[ROTATION_KEY] = new.key_pem
    return value, keys


def finish(value: dict[str, Any], keys: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The new root replaces the old one; both join tokens are made again with its digest (finishRootRotation)."""
    value, keys = copy.deepcopy(value), dict(keys)
    rotation = value.pop("RootRotation")
    new = RootCA(rotation["CACert"], _key_for(rotation["CACert"], keys))
    keys.pop(ROTATION_KEY)
    keys[CA_KEY] = new.key_pem
    value["CACert"] = new.cert_pem
    value["JoinTokens"] = {"Worker": new_token(new.digest()), "Manager": new_token(new.digest())}
    return value, keys
