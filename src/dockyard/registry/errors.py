"""OCI distribution error codes as exceptions of the project's error tree (status + code + detail)."""

from __future__ import annotations

from typing import Any

from dockyard.errors import (Conflict, DockyardError, Forbidden, InvalidParameter, NotFound,
                             NotImplementedYet, Unauthorized)


class RegistryError(DockyardError):
    """Mixin data of every registry error: the spec's code and an optional detail object."""

    code = "UNKNOWN"

    def __init__(self, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.detail = detail
        self.headers = dict(headers or {})


def _error(name: str, base: type[DockyardError], code: str, status: int | None = None) -> type[RegistryError]:
    """Make one error class carrying `code` on top of `base`'s HTTP status."""
    attrs: dict[str, Any] = {"code": code, "__doc__": f"OCI error {code}."}
    if status is not None:
        attrs["status"] = status
    return type(name, (RegistryError, base), attrs)


BlobUnknown = _error("BlobUnknown", NotFound, "BLOB_UNKNOWN")
BlobUploadInvalid = _error("BlobUploadInvalid", InvalidParameter, "BLOB_UPLOAD_INVALID")
BlobUploadUnknown = _error("BlobUploadUnknown", NotFound, "BLOB_UPLOAD_UNKNOWN")
DigestInvalid = _error("DigestInvalid", InvalidParameter, "DIGEST_INVALID")
ManifestBlobUnknown = _error("ManifestBlobUnknown", InvalidParameter, "MANIFEST_BLOB_UNKNOWN")
ManifestInvalid = _error("ManifestInvalid", InvalidParameter, "MANIFEST_INVALID")
ManifestUnknown = _error("ManifestUnknown", NotFound, "MANIFEST_UNKNOWN")
NameInvalid = _error("NameInvalid", InvalidParameter, "NAME_INVALID")
NameUnknown = _error("NameUnknown", NotFound, "NAME_UNKNOWN")
SizeInvalid = _error("SizeInvalid", InvalidParameter, "SIZE_INVALID")
RangeInvalid = _error("RangeInvalid", InvalidParameter, "BLOB_UPLOAD_INVALID", 416)
AuthRequired = _error("AuthRequired", Unauthorized, "UNAUTHORIZED")
Denied = _error("Denied", Forbidden, "DENIED")
Unsupported = _error("Unsupported", NotImplementedYet, "UNSUPPORTED", 405)
PaginationInvalid = _error("PaginationInvalid", InvalidParameter, "PAGINATION_NUMBER_INVALID")
TagConflict = _error("TagConflict", Conflict, "DENIED")

_CODE_BY_STATUS = {400: "UNSUPPORTED", 401: "UNAUTHORIZED", 403: "DENIED", 404: "NAME_UNKNOWN",
                   405: "UNSUPPORTED", 409: "DENIED", 416: "BLOB_UPLOAD_INVALID"}


def code_of(exc: DockyardError) -> str:
    """The OCI code for any project error (registry errors carry their own)."""
    if isinstance(exc, RegistryError):
        return exc.code
    return _CODE_BY_STATUS.get(exc.status, "UNKNOWN")
