"""The shapes of the server's results, as typed dictionaries.

Results are the JSON objects the server sends, unchanged: keys are spelled
as on the wire (``artifactId``, ``sizeBytes``), so that a field the server
adds later is there too, and docs/protocol.md describes every one. These
types only tell a type checker what to expect; nothing is converted.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - Python 3.9 and 3.10
    from typing import TypedDict

    NotRequired = Optional  # a looser hint where typing has no NotRequired

__all__ = [
    "ArtifactMeta",
    "UploadedArtifact",
    "UploadStatus",
    "ReadResult",
    "Usage",
    "Quota",
    "Readiness",
    "ReadinessIssue",
    "ConfigSnapshot",
    "Hello",
    "Limits",
    "Event",
]


class ArtifactMeta(TypedDict):
    """An artifact's meta (never its bytes)."""

    artifactId: str
    tenantId: str
    providerId: str
    mimeType: str
    sizeBytes: int
    sha256: str
    stagedAt: str
    stagedBy: str


class UploadedArtifact(ArtifactMeta):
    """The meta of a stored artifact, and whether the tenant already held its bytes."""

    deduplicated: bool


class UploadStatus(TypedDict):
    """Where an open upload stands (``uploads.status``)."""

    uploadId: str
    offset: int
    sizeBytes: NotRequired[int]
    startedAt: str
    updatedAt: str


class ReadResult(TypedDict):
    """What :meth:`~cairn_client.Client.read_to` wrote: the verified size and digest."""

    artifactId: str
    sizeBytes: int
    sha256: str


class Quota(TypedDict):
    """A tenant's quotas; ``None`` where there is none."""

    maxBytes: Optional[int]
    maxArtifacts: Optional[int]


class Usage(TypedDict):
    """A tenant's usage and quotas (``tenants.usage``, ``tenants.setQuota``)."""

    tenant: str
    artifactCount: int
    logicalBytes: int
    storedBytes: int
    quota: Quota


class ReadinessIssue(TypedDict):
    """One reason a provider configuration cannot run."""

    field: str
    subCode: str
    message: str


class Readiness(TypedDict):
    """Whether a provider configuration can run (``providers.readiness``)."""

    providerId: str
    ready: bool
    state: str
    code: Optional[str]
    subCodes: List[str]
    issues: List[ReadinessIssue]


class ConfigSnapshot(TypedDict):
    """A provider configuration (``providers.config.get`` and ``.set``)."""

    tenant: str
    providerId: str
    revision: int
    updatedAt: Optional[str]
    updatedBy: Optional[str]
    fields: List[Dict[str, Any]]
    readiness: Readiness


class Limits(TypedDict):
    """The server's limits, in bytes."""

    maxRequestBytes: int
    maxChunkBytes: int
    maxArtifactBytes: int


class Hello(TypedDict):
    """The server, its limits, and what the caller may do (``system.hello``)."""

    server: str
    version: str
    protocol: int
    capabilities: List[str]
    limits: Limits
    peer: Dict[str, int]
    grants: List[Dict[str, Any]]


class Event(TypedDict):
    """One entry of a tenant's audit log (``events.list``)."""

    seq: int
    at: str
    actor: str
    action: str
    artifactId: NotRequired[str]
    sha256: NotRequired[str]
    providerId: NotRequired[str]
    detail: NotRequired[Dict[str, Any]]
