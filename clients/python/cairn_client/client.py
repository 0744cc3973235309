"""The Cairn client: one connection to ``cairn serve``, a method per
contract method."""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import secrets
import threading
import time
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Tuple,
    TypeVar,
    Union,
)

from ._connection import Bytes, Connection
from ._sources import MemorySource, Source
from .errors import CairnError, ErrorCode
from .types import (
    ArtifactMeta,
    ConfigSnapshot,
    Event,
    Hello,
    ReadResult,
    Readiness,
    UploadedArtifact,
    UploadStatus,
    Usage,
)

__all__ = ["Client", "default_socket_path", "DEFAULT_MIME_TYPE", "BinaryReader", "BinaryWriter"]

#: The media type of an upload that names none.
DEFAULT_MIME_TYPE = "application/octet-stream"

PathLike = Union[str, "os.PathLike[str]"]
_Result = TypeVar("_Result")


class BinaryReader(Protocol):
    """What :meth:`Client.upload` reads from: a file object in binary mode (or anything with such a ``read``)."""

    def read(self, __size: int) -> Optional[bytes]: ...


class BinaryWriter(Protocol):
    """What :meth:`Client.read_to` writes to: a file object in binary mode (or anything with such a ``write``)."""

    def write(self, __data: bytes) -> Any: ...


# Failures of the connection, after which an upload asks the server where it stands.
_CONNECTION_LOST = (ErrorCode.CONNECTION_CLOSED, ErrorCode.TIMEOUT, ErrorCode.CONNECTION_FAILED)


def default_socket_path(environ: Optional[Mapping[str, str]] = None) -> str:
    """The socket the ``cairn`` CLI would use: ``$CAIRN_SOCKET``, else
    ``<data-dir>/cairn.sock`` where the data directory is ``$CAIRN_DATA_DIR``,
    else ``$HOME/.local/share/cairn`` (the user's home directory from the
    password database when ``HOME`` is unset). Empty variables count as unset.

    Args:
        environ: the environment to read; ``os.environ`` by default.
    """
    env = os.environ if environ is None else environ
    if env.get("CAIRN_SOCKET"):
        return env["CAIRN_SOCKET"]
    data_dir = env.get("CAIRN_DATA_DIR")
    if not data_dir:
        home = env.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
        data_dir = os.path.join(home, ".local", "share", "cairn")
    return os.path.join(data_dir, "cairn.sock")


class _Keep:
    """The default of :meth:`Client.set_quota`'s arguments: leave that quota as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


class Client:
    """A client of one Cairn server, over one Unix-socket connection.

    The connection is opened on the first call and opened again, on the
    next call, after the server closed it (idle timeout, restart). Requests
    go one at a time: the client may be shared between threads, which then
    take turns. Use it as a context manager, or call :meth:`close`::

        with Client() as cairn:
            meta = cairn.upload("acme", "excititor:oci-openvex", b"...", mime_type="text/plain")
            data = cairn.read("acme", meta["artifactId"])

    Every failure is a :class:`~cairn_client.CairnError`; match on its
    ``code``. Results are the server's JSON objects as ``dict``s, keys
    spelled as on the wire (see :mod:`cairn_client.types`).

    Read-only calls that lose their connection are sent once more on a new
    one; calls that write are not, since the first may have been carried
    out (:meth:`upload` knows how to continue, see there).

    Args:
        socket_path: the server's socket; by default as the CLI finds it
            (:func:`default_socket_path`).
        timeout: seconds to wait for the server on any one exchange before
            giving up with ``TIMEOUT`` (``None``: wait as long as it takes).
        reconnect_attempts: how often an interrupted upload or read tries a
            new connection, waiting ``reconnect_delay`` seconds before the
            first try and twice as long before each next one, before it
            gives up with ``CONNECTION_CLOSED``.
        reconnect_delay: the first of those waits, in seconds.
    """

    def __init__(
        self,
        socket_path: Optional[PathLike] = None,
        *,
        timeout: Optional[float] = None,
        reconnect_attempts: int = 8,
        reconnect_delay: float = 0.05,
    ) -> None:
        self.socket_path: str = os.fspath(socket_path) if socket_path is not None else default_socket_path()
        self.timeout = timeout
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_delay = reconnect_delay
        self._lock = threading.RLock()
        self._connection: Optional[Connection] = None
        self._closed = False

    # MARK: - Lifetime

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection. Idempotent; the client cannot be used afterwards."""
        with self._lock:
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def call(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """Sends any method with the given params and returns its result as
        sent: for methods this client does not know yet, and for tests.

        Args:
            method: the method's wire name, e.g. ``"tenants.usage"``.
            params: its params, exactly as they go on the wire.
        """
        return self._call(method, dict(params or {}))

    # MARK: - System

    def hello(self) -> Hello:
        """``system.hello``: the server's version, limits and capabilities,
        the caller's uid and gid, and its grants. Needs no grant."""
        return self._call("system.hello", {}, resumable=True)

    def health(self) -> Dict[str, Any]:
        """``system.health``: ``status`` (``"ok"`` or ``"degraded"``) and the
        store layout version; the store figures and ``problems`` only for a
        caller with the admin scope on every tenant. Needs no grant."""
        return self._call("system.health", {}, resumable=True)

    # MARK: - Uploads

    def upload(
        self,
        tenant: str,
        provider_id: str,
        data_or_file: Union[Bytes, PathLike, BinaryReader],
        mime_type: str = DEFAULT_MIME_TYPE,
        *,
        sha256: Optional[str] = None,
        artifact_id: Optional[str] = None,
        upload_id: Optional[str] = None,
        chunk_bytes: Optional[int] = None,
    ) -> UploadedArtifact:
        """Stores bytes, a file (by path) or a binary file object as an
        artifact and returns its meta, with ``deduplicated`` true when the
        tenant already held the same bytes.

        Bytes that fit in one chunk go in one ``artifacts.upload``. Anything
        else goes through an upload session (``uploads.begin``, then
        ``uploads.append`` of at most the server's ``maxChunkBytes`` at a
        time, then ``uploads.commit``), reading the file one chunk at a
        time: memory stays bounded by one chunk whatever the file's size.
        The content's SHA-256 is computed while it is read and sent with the
        commit, so the server refuses to store anything but the bytes this
        client read (``DIGEST_MISMATCH``).

        Resuming: when the connection drops in the middle (the server
        restarted, a proxy cut it), the client connects again, asks the
        server how far the upload got (``uploads.status``), and goes on from
        there, up to ``reconnect_attempts`` times. When that fails too, the
        ``CONNECTION_CLOSED`` error carries ``data["uploadId"]`` and
        ``data["offset"]``; the upload stays open on the server (until its
        idle expiry, 24 hours by default), and calling :meth:`upload` again
        with the same content and ``upload_id=`` continues it, from another
        process too, as long as the caller is the same user. A file object
        that cannot seek can still be resumed within one call when the
        server holds every byte up to the chunk in flight.

        When the server refuses the upload (quota, digest, size, grant), an
        upload this call began is aborted, so nothing is left open; one
        passed in as ``upload_id`` is left to its owner.

        Args:
            tenant: the tenant to store into (admin scope).
            provider_id: the provider the artifact is staged for.
            data_or_file: ``bytes``/``bytearray``/``memoryview``; a path
                (``str`` or path-like) of a file to read; or a file object
                opened in binary mode, read from its current position to its
                end.
            mime_type: the artifact's media type.
            sha256: the digest the content must have (64 hex digits,
                optionally ``sha256:``-prefixed); the server refuses other
                content with ``DIGEST_MISMATCH``. Declared at
                ``uploads.begin``, so a tenant that already holds it is not
                charged quota for it twice.
            artifact_id: an id for the new artifact (a Cairn addition, for
                imports that keep ids); ``CONFLICT`` when the tenant has an
                artifact with it.
            upload_id: an open upload of this content to continue instead of
                beginning a new one.
            chunk_bytes: send at most this many bytes per append (default
                and upper bound: the server's ``maxChunkBytes``).

        Raises:
            CairnError: as the server refused, or ``CONNECTION_*``.
            OSError: the file cannot be read.
        """
        source = Source.of(data_or_file)
        try:
            chunk = self._chunk_bytes(chunk_bytes)
            if upload_id is None and isinstance(source, MemorySource) and source.size <= chunk:
                return self._upload_at_once(tenant, provider_id, mime_type, source, sha256, artifact_id)
            return _UploadSession(self, source, chunk).run(
                tenant, provider_id, mime_type, sha256, artifact_id, upload_id
            )
        finally:
            source.close()

    def uploads_begin(
        self,
        tenant: str,
        provider_id: str,
        mime_type: str = DEFAULT_MIME_TYPE,
        *,
        size_bytes: Optional[int] = None,
        sha256: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``uploads.begin``: opens an upload session; returns
        ``{"uploadId", "offset": 0}``. A declared ``size_bytes`` over the
        tenant's byte quota or ``maxArtifactBytes`` fails here, before any
        byte is sent. Most callers want :meth:`upload`, which does the
        whole session."""
        return self._call(
            "uploads.begin",
            _params(tenant=tenant, providerId=provider_id, mimeType=mime_type, sizeBytes=size_bytes, sha256=sha256),
        )

    def uploads_append(self, upload_id: str, offset: int, data: Bytes) -> Dict[str, Any]:
        """``uploads.append``: adds `data` (at most ``maxChunkBytes``) at
        `offset`, which must be the upload's current offset
        (``OFFSET_MISMATCH`` names the right one); returns
        ``{"uploadId", "offset"}`` with the new offset."""
        params = _params(uploadId=upload_id, offset=offset)
        return self._call_with_bytes("uploads.append", params, data)

    def uploads_status(self, upload_id: str) -> UploadStatus:
        """``uploads.status``: the upload's offset (how many bytes the server
        holds), its declared size if any, and when it began and last moved."""
        return self._call("uploads.status", {"uploadId": upload_id}, resumable=True)

    def uploads_commit(
        self,
        upload_id: str,
        *,
        sha256: Optional[str] = None,
        artifact_id: Optional[str] = None,
    ) -> UploadedArtifact:
        """``uploads.commit``: checks the declared size, the digest (given
        here or at begin) and the quotas, and makes the artifact. A failed
        commit leaves the upload open."""
        return self._call("uploads.commit", _params(uploadId=upload_id, sha256=sha256, artifactId=artifact_id))

    def uploads_abort(self, upload_id: str) -> Dict[str, Any]:
        """``uploads.abort``: drops an open upload and gives its bytes back."""
        return self._call("uploads.abort", {"uploadId": upload_id})

    # MARK: - Artifacts

    def meta(self, tenant: str, artifact_id: str) -> ArtifactMeta:
        """``artifacts.meta``: an artifact's meta (``NOT_FOUND`` when the
        tenant has no such artifact)."""
        return self._call("artifacts.meta", {"tenant": tenant, "artifactId": artifact_id}, resumable=True)

    def list(
        self,
        tenant: str,
        provider_id: Optional[str] = None,
        *,
        page_size: Optional[int] = None,
    ) -> Iterator[ArtifactMeta]:
        """Every artifact of the tenant (of one provider, if given), in the
        order they were staged, fetching page after page
        (``artifacts.list``) as the iteration goes. Artifacts staged while
        it runs appear at the end; none that existed throughout is repeated
        or skipped. Nothing is asked before the first item is wanted, so
        errors (``FORBIDDEN``, …) come from the iteration.

        Args:
            page_size: artifacts per request, 1–1000 (the server's default
                is 100).
        """
        return self._pages(
            "artifacts.list", _params(tenant=tenant, providerId=provider_id, limit=page_size), "artifacts"
        )

    def list_page(
        self,
        tenant: str,
        provider_id: Optional[str] = None,
        *,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Dict[str, Any]:
        """One ``artifacts.list`` page: ``{"artifacts", "nextCursor"}``, for
        callers that keep the cursor themselves (``None`` after the last)."""
        return self._call(
            "artifacts.list",
            _params(tenant=tenant, providerId=provider_id, limit=limit, cursor=cursor),
            resumable=True,
        )

    def read(self, tenant: str, artifact_id: str) -> bytes:
        """The artifact's bytes, verified: the SHA-256 of what arrived must
        be the artifact's, else ``DIGEST_MISMATCH`` (``data["side"] ==
        "client"``). The whole content is held in memory; for large
        artifacts use :meth:`read_to`."""
        buffer = bytearray()
        for piece in self.read_chunks(tenant, artifact_id):
            buffer += piece
        return bytes(buffer)

    def read_to(self, tenant: str, artifact_id: str, file: Union[PathLike, BinaryWriter]) -> ReadResult:
        """Writes the artifact to `file`, one chunk in memory at a time, and
        verifies its SHA-256. Returns ``{"artifactId", "sizeBytes", "sha256"}``.

        Given a path, the bytes go to a new temporary file (mode 0600) next
        to it, which replaces the path (atomically, flushed to disk) only
        once every byte is verified: on any failure the path is left as it
        was and nothing is left behind. Given a file object, the bytes are
        written to it as they arrive, so on a failure it holds unverified
        bytes: discard them.
        """
        if isinstance(file, (str, os.PathLike)):
            return _write_atomically(os.fspath(file), lambda out: self.read_to(tenant, artifact_id, out))
        result: Dict[str, Any] = {}
        for piece in self._verified_chunks(tenant, artifact_id, result):
            file.write(piece)
        return result  # type: ignore[return-value]

    def read_chunks(self, tenant: str, artifact_id: str) -> Iterator[bytes]:
        """The artifact's bytes as they arrive, chunk by chunk
        (``artifacts.read`` of ``maxChunkBytes`` each, raw bytes where the
        server offers binary attachments). The whole content's SHA-256 is
        checked after the last chunk: ``DIGEST_MISMATCH`` is raised from
        the iteration then, so chunks already handed out are unverified
        until the iteration ends without an error. (Each chunk is checked
        by the server against its own chunk digests before it is sent.)
        A dropped connection is resumed at the next chunk."""
        return self._verified_chunks(tenant, artifact_id, {})

    def _verified_chunks(self, tenant: str, artifact_id: str, result_out: Dict[str, Any]) -> Iterator[bytes]:
        """:meth:`read_chunks`, filling `result_out` with the verified size and digest at the end."""
        digest = hashlib.sha256()
        expected: Optional[str] = None
        size = 0
        for result, data in self._pieces("artifacts.read", lambda at: self._read_piece(tenant, artifact_id, at)):
            if expected is None:
                expected = result.get("sha256")
            elif result.get("sha256") != expected:
                raise self._violation("artifacts.read answered another sha256 for the same artifact")
            digest.update(data)
            size += len(data)
            if data:
                yield data
        _check_digest(digest.hexdigest(), expected, "the artifact's")
        result_out.update(artifactId=artifact_id, sizeBytes=size, sha256=expected)

    def _pieces(
        self, method: str, fetch: Callable[[int], Tuple[Dict[str, Any], bytes]]
    ) -> Iterator[Tuple[Dict[str, Any], bytes]]:
        """The answers of `fetch(offset)` from offset 0 to the one that says
        ``eof``, each checked to start where the one before ended."""
        offset = 0
        while True:
            result, data = fetch(offset)
            if result.get("offset") != offset or result.get("length") != len(data):
                raise self._violation(
                    f"{method} at {offset} answered offset {result.get('offset')} "
                    f"and {len(data)} bytes for length {result.get('length')}"
                )
            yield result, data
            offset += len(data)
            if result.get("eof") is True:
                return
            if not data:
                raise self._violation(f"{method} answered no bytes before the end")

    def read_range(
        self, tenant: str, artifact_id: str, offset: int = 0, length: Optional[int] = None
    ) -> Dict[str, Any]:
        """One ``artifacts.read``: ``{"data": bytes, "offset", "length",
        "eof", "sha256"}``, where ``sha256`` is the whole artifact's (so a
        range alone cannot be checked against it; the server checks it
        against its chunk digests before sending). ``length`` defaults to
        the smaller of ``maxChunkBytes`` and what is left; more is
        ``TOO_LARGE``. A range past the end is clamped."""
        result, data = self._read_piece(tenant, artifact_id, offset, length)
        answer = dict(result)
        answer.pop("dataLength", None)
        answer["data"] = data
        return answer

    def delete(self, tenant: str, artifact_id: str) -> Dict[str, Any]:
        """``artifacts.delete``: ``{"artifactId", "deleted": True,
        "blobFreed"}``. ``ARTIFACT_IN_USE`` while a provider configuration
        references the artifact (``data["references"]`` lists where)."""
        return self._call("artifacts.delete", {"tenant": tenant, "artifactId": artifact_id})

    def import_artifacts(
        self, tenant: str, artifacts: Iterable[Mapping[str, Any]], *, dry_run: bool = False
    ) -> Dict[str, Any]:
        """``artifacts.import`` (a Cairn addition): links content the tenant
        holds under the given artifact ids, or with ``dry_run`` says what it
        would do. Entries are ``{artifactId, sha256, sizeBytes, providerId,
        mimeType}``, at most 1000."""
        return self._call(
            "artifacts.import",
            {"tenant": tenant, "artifacts": [dict(a) for a in artifacts], "dryRun": dry_run},
            resumable=dry_run,
        )

    # MARK: - Blobs

    def blobs_stat(self, tenant: str, sha256: str) -> Dict[str, Any]:
        """``blobs.stat``: the tenant's content with that digest: its size,
        the artifacts holding it, and the configuration fields referencing
        them."""
        return self._call("blobs.stat", {"tenant": tenant, "sha256": sha256}, resumable=True)

    def blobs_verify(
        self,
        tenant: str,
        *,
        cursor: Optional[str] = None,
        max_bytes: Optional[int] = None,
        sha256: Optional[str] = None,
    ) -> Dict[str, Any]:
        """One ``blobs.verify`` call (admin scope): re-reads up to
        `max_bytes` of the tenant's stored content and lists what is
        ``corrupt``; pass ``nextCursor`` back until it is ``None``."""
        return self._call(
            "blobs.verify", _params(tenant=tenant, cursor=cursor, maxBytes=max_bytes, sha256=sha256), resumable=True
        )

    # MARK: - Tenants

    def usage(self, tenant: str) -> Usage:
        """``tenants.usage``: artifact count, logical and stored bytes, quotas."""
        return self._call("tenants.usage", {"tenant": tenant}, resumable=True)

    def set_quota(self, tenant: str, *, max_bytes: Any = KEEP, max_artifacts: Any = KEEP) -> Usage:
        """``tenants.setQuota``: an int sets that quota, ``None`` removes it,
        and leaving the argument out keeps it. Returns the usage."""
        params: Dict[str, Any] = {"tenant": tenant}
        if max_bytes is not KEEP:
            params["maxBytes"] = max_bytes
        if max_artifacts is not KEEP:
            params["maxArtifacts"] = max_artifacts
        return self._call("tenants.setQuota", params)

    def tenants(self) -> List[str]:
        """``tenants.list`` (a Cairn addition): the tenants the store knows
        and the caller may read, by name."""
        return self._call("tenants.list", {}, resumable=True)["tenants"]

    def manifest(self, tenant: str) -> Dict[str, Any]:
        """``tenants.manifest`` (a Cairn addition): the tenant's manifest and
        its digest, from one snapshot (see docs/auditing.md)."""
        return self._call("tenants.manifest", {"tenant": tenant}, resumable=True)

    # MARK: - Backups

    def backup_begin(self, content: str = "included") -> Dict[str, Any]:
        """``backup.begin`` (a Cairn addition; the ``backup`` scope on
        ``"*"``): takes a consistent snapshot of the whole store and answers
        its ``snapshotId``, its ``files`` (``path``, ``sizeBytes``,
        ``sha256``) and every tenant's manifest. The snapshot stays on the
        server until :meth:`backup_end` (or 15 idle minutes). With
        ``content="separate"`` its ``data.mdb`` is the store without its
        content, which :meth:`backup_read_content` reads."""
        return self._call("backup.begin", {} if content == "included" else {"content": content})

    def backup_read_content(
        self,
        snapshot_id: str,
        *,
        tenant: Optional[str] = None,
        sha256: Optional[str] = None,
        upload_id: Optional[str] = None,
        offset: int = 0,
        length: Optional[int] = None,
    ) -> Dict[str, Any]:
        """One ``backup.readContent`` of a ``"separate"`` snapshot: the blob
        of `sha256` in `tenant`, or the open upload `upload_id`, as
        ``{"offset", "length", "eof", "data": bytes}``, at most
        ``maxChunkBytes``."""
        params = _params(
            snapshotId=snapshot_id, tenant=tenant, sha256=sha256, uploadId=upload_id, offset=offset, length=length
        )
        result, data = self._exchange("backup.readContent", params, None, True, True)
        if not isinstance(result, dict) or data is None:
            raise self._violation("backup.readContent answered no attachment")
        answer = dict(result)
        answer.pop("dataLength", None)
        answer["data"] = data
        return answer

    def backup_read(self, snapshot_id: str, path: str, offset: int = 0, length: Optional[int] = None) -> Dict[str, Any]:
        """One ``backup.read``: ``{"path", "offset", "length", "eof", "data":
        bytes}`` of one of the snapshot's files, at most ``maxChunkBytes``."""
        result, data = self._backup_piece(snapshot_id, path, offset, length)
        answer = dict(result)
        answer.pop("dataLength", None)
        answer["data"] = data
        return answer

    def _backup_piece(
        self, snapshot_id: str, path: str, offset: int, length: Optional[int] = None
    ) -> Tuple[Dict[str, Any], bytes]:
        params = _params(snapshotId=snapshot_id, path=path, offset=offset, length=length)
        result, data = self._exchange("backup.read", params, None, True, True)
        if not isinstance(result, dict) or data is None:
            raise self._violation("backup.read answered no attachment")
        return result, data

    def backup_read_to(
        self, snapshot_id: str, file: Mapping[str, Any], target: Union[PathLike, BinaryWriter]
    ) -> Dict[str, Any]:
        """Copies one file of a snapshot (an entry of ``backup_begin()``'s
        ``files``) to `target`, a chunk at a time, and checks it against the
        entry's ``sizeBytes`` and ``sha256`` (``SIZE_MISMATCH`` or
        ``DIGEST_MISMATCH`` with ``side: "client"``). A path is written as
        :meth:`read_to` writes one: 0600, replaced only once verified.
        Returns ``{"path", "sizeBytes", "sha256"}``."""
        if isinstance(target, (str, os.PathLike)):
            return _write_atomically(os.fspath(target), lambda out: self.backup_read_to(snapshot_id, file, out))
        digest = hashlib.sha256()
        size = 0

        def fetch(offset: int) -> Tuple[Dict[str, Any], bytes]:
            return self._backup_piece(snapshot_id, file["path"], offset)

        for _, data in self._pieces("backup.read", fetch):
            digest.update(data)
            target.write(data)
            size += len(data)
        if size != file["sizeBytes"]:
            raise CairnError(
                ErrorCode.SIZE_MISMATCH,
                f"{file['path']} of snapshot {snapshot_id} is {size} bytes, not {file['sizeBytes']}",
                {"expected": file["sizeBytes"], "actual": size, "side": "client"},
            )
        _check_digest(digest.hexdigest(), file["sha256"], f"{file['path']}'s")
        return {"path": file["path"], "sizeBytes": size, "sha256": file["sha256"]}

    def backup_end(self, snapshot_id: str) -> Dict[str, Any]:
        """``backup.end``: removes the snapshot's files from the server."""
        return self._call("backup.end", {"snapshotId": snapshot_id})

    # MARK: - Events

    def events(self, tenant: str, *, page_size: Optional[int] = None) -> Iterator[Event]:
        """The tenant's audit log, oldest first, fetching page after page
        (``events.list``) as the iteration goes."""
        return self._pages("events.list", _params(tenant=tenant, limit=page_size), "events")

    def events_page(self, tenant: str, *, cursor: Optional[str] = None, limit: Optional[int] = None) -> Dict[str, Any]:
        """One ``events.list`` page: ``{"events", "nextCursor"}``."""
        return self._call("events.list", _params(tenant=tenant, cursor=cursor, limit=limit), resumable=True)

    def events_verify(self, tenant: str, anchor: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """``events.verify`` (a Cairn addition): checks the tenant's audit
        chain, and with `anchor` (``{"seq", "sha256"}``) that an event
        recorded earlier is unchanged."""
        params = _params(tenant=tenant, anchor=dict(anchor) if anchor is not None else None)
        return self._call("events.verify", params, resumable=True)

    # MARK: - Providers

    def providers(self) -> List[Dict[str, Any]]:
        """``providers.list``: the provider catalog and each provider's
        fields. Needs no grant."""
        return self._call("providers.list", {}, resumable=True)["providers"]

    def config_get(self, tenant: str, provider_id: str) -> ConfigSnapshot:
        """``providers.config.get``: the provider's configuration in the
        tenant (revision 0 and every value ``None`` if never set). Secret
        values that are set show as ``{"set": True}``."""
        return self._call("providers.config.get", {"tenant": tenant, "providerId": provider_id}, resumable=True)

    def config_set(
        self,
        tenant: str,
        provider_id: str,
        values: Optional[Mapping[str, Any]] = None,
        *,
        clear: Optional[Iterable[str]] = None,
        expected_revision: Optional[int] = None,
    ) -> ConfigSnapshot:
        """``providers.config.set``: merges `values` into the configuration
        (``None`` clears a key), clears the keys in `clear`, all or nothing;
        returns the new snapshot. With `expected_revision`, ``CONFLICT``
        (``data["revision"]`` is the current one) when another change came
        first. Wrong shapes and dangling references are
        ``PROVIDER_CONFIG_INVALID`` with ``data["issues"]``."""
        params = _params(
            tenant=tenant,
            providerId=provider_id,
            values=dict(values) if values is not None else None,
            clear=[str(key) for key in clear] if clear is not None else None,
            expectedRevision=expected_revision,
        )
        return self._call("providers.config.set", params)

    def readiness(self, tenant: str, provider_id: str) -> Readiness:
        """``providers.readiness``: whether the configuration can run, and if
        not, every issue (missing or wrong values, referenced artifacts that
        are missing or corrupt)."""
        return self._call("providers.readiness", {"tenant": tenant, "providerId": provider_id}, resumable=True)

    # MARK: - Internals

    def _call(
        self,
        method: str,
        params: Dict[str, Any],
        *,
        attachment: Optional[Bytes] = None,
        binary_response: bool = False,
        resumable: bool = False,
        patient: bool = False,
    ) -> Any:
        return self._exchange(method, params, attachment, binary_response, resumable, patient)[0]

    def _exchange(
        self,
        method: str,
        params: Dict[str, Any],
        attachment: Optional[Bytes],
        binary_response: bool,
        resumable: bool,
        patient: bool = False,
    ) -> Tuple[Any, Optional[bytes]]:
        """One request on the current connection (opened first if need be).

        A `resumable` request (one that changes nothing) whose connection is
        lost is sent again on a new one: at once the first time (the
        connection may just have been stale), then after the
        ``reconnect_delay`` waits, also through failed connects while the
        server restarts. A `patient` one also waits through failed connects
        from the start, because a connection was lost just before it.
        """
        attempt = 0
        while True:
            with self._lock:
                try:
                    return self._connected().request(method, params, attachment, binary_response)
                except CairnError as error:
                    # Not after a TIMEOUT: a server that is slow to answer is not helped by asking again.
                    lost = error.code == ErrorCode.CONNECTION_CLOSED or (
                        error.code == ErrorCode.CONNECTION_FAILED and (attempt > 0 or patient)
                    )
                    if not (resumable and lost and attempt < self.reconnect_attempts):
                        raise
            attempt += 1
            self._pause(attempt)

    def _pause(self, attempt: int) -> None:
        """The wait before reconnect `attempt` (1, 2, …): none for the first."""
        if attempt > 1:
            time.sleep(self.reconnect_delay * (2 ** (attempt - 2)))

    def _connected(self) -> Connection:
        if self._closed:
            raise CairnError(ErrorCode.CONNECTION_CLOSED, "the client is closed", {"socket": self.socket_path})
        connection = self._connection
        if connection is None or connection.closed_by_server():
            if connection is not None:
                connection.close()
            self._connection = None
            self._connection = connection = Connection(self.socket_path, self.timeout)
        return connection

    def _server(self) -> Hello:
        """``system.hello`` of the current connection (asked once per connection)."""
        with self._lock:
            connection = self._connected()
            if connection.hello is None:
                hello = self._call("system.hello", {}, resumable=True)
                # The call may have opened a new connection: remember it there.
                self._connected().hello = hello
                return hello
            return connection.hello  # type: ignore[return-value]

    def _binary(self) -> bool:
        return "binaryAttachments" in self._server().get("capabilities", [])

    def _chunk_bytes(self, requested: Optional[int]) -> int:
        if requested is not None and requested < 1:
            raise ValueError("chunk_bytes must be at least 1")
        limit = int(self._server()["limits"]["maxChunkBytes"])
        return min(limit, requested) if requested is not None else limit

    def _call_with_bytes(self, method: str, params: Dict[str, Any], data: Bytes, resumable: bool = False) -> Any:
        """`method` with `data` as a raw attachment where the server takes one, else as base64."""
        if self._binary():
            params["dataLength"] = len(data)
            return self._call(method, params, attachment=data, resumable=resumable)
        params["data"] = base64.b64encode(data).decode("ascii")
        return self._call(method, params, resumable=resumable)

    def _upload_at_once(
        self,
        tenant: str,
        provider_id: str,
        mime_type: str,
        source: MemorySource,
        sha256: Optional[str],
        artifact_id: Optional[str],
    ) -> UploadedArtifact:
        data = source.read(source.size)
        digest = sha256 if sha256 is not None else hashlib.sha256(data).hexdigest()
        params = _params(
            tenant=tenant, providerId=provider_id, mimeType=mime_type, sha256=digest, artifactId=artifact_id
        )
        return self._call_with_bytes("artifacts.upload", params, data)

    def _read_piece(
        self, tenant: str, artifact_id: str, offset: int, length: Optional[int] = None
    ) -> Tuple[Dict[str, Any], bytes]:
        binary = self._binary()
        params = _params(tenant=tenant, artifactId=artifact_id, offset=offset, length=length)
        if binary:
            params["binary"] = True
        result, payload = self._exchange("artifacts.read", params, None, binary, True)
        if not isinstance(result, dict):
            raise self._violation("artifacts.read answered something that is not an object")
        if payload is None:
            try:
                payload = base64.b64decode(result.get("data", ""), validate=True)
            except (TypeError, ValueError):
                raise self._violation("artifacts.read answered data that is not base64") from None
        return result, payload

    def _pages(self, method: str, params: Dict[str, Any], key: str) -> Iterator[Any]:
        cursor: Optional[str] = None
        while True:
            page = self._call(method, dict(params, **({"cursor": cursor} if cursor else {})), resumable=True)
            yield from page[key]
            cursor = page.get("nextCursor")
            if cursor is None:
                return

    def _violation(self, message: str) -> CairnError:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        return CairnError(ErrorCode.PROTOCOL_ERROR, message, {"socket": self.socket_path})


class _UploadSession:
    """One :meth:`Client.upload` through ``uploads.*``: reads the source a
    chunk at a time, hashes what it sends, and resumes where the server is
    when the connection drops or the server holds another offset."""

    def __init__(self, client: Client, source: Source, chunk: int) -> None:
        self.client = client
        self.source = source
        self.chunk = chunk
        self.upload_id = ""
        #: Bytes the server holds, as far as this session knows.
        self.position = 0
        #: Bytes read from the source and not yet acknowledged, starting at `position`.
        self.pending: Bytes = b""
        #: SHA-256 of every byte read from the source so far (`position + len(pending)`).
        self.digest = hashlib.sha256()

    def run(
        self,
        tenant: str,
        provider_id: str,
        mime_type: str,
        sha256: Optional[str],
        artifact_id: Optional[str],
        upload_id: Optional[str],
    ) -> UploadedArtifact:
        client = self.client
        began_here = upload_id is None
        if upload_id is None:
            begun = client.uploads_begin(tenant, provider_id, mime_type, size_bytes=self.source.size, sha256=sha256)
            self.upload_id = begun["uploadId"]
        else:
            self.upload_id = upload_id
            self._move_to(client.uploads_status(upload_id)["offset"])
        try:
            self._send_all()
            return self._commit(sha256 if sha256 is not None else self.digest.hexdigest(), artifact_id)
        except CairnError as error:
            if error.code in _CONNECTION_LOST:
                error.data.setdefault("uploadId", self.upload_id)
                error.data.setdefault("offset", self.position)
                raise
            if began_here:
                self._abort()
            raise
        except BaseException:
            if began_here:
                self._abort()
            raise

    def _send_all(self) -> None:
        while True:
            if not self.pending:
                self.pending = self.source.read(self.chunk)
                if not self.pending:
                    return
                self.digest.update(self.pending)
            try:
                answer = self.client.uploads_append(self.upload_id, self.position, self.pending)
            except CairnError as error:
                offset = error.data.get("offset")
                if error.code == ErrorCode.OFFSET_MISMATCH and isinstance(offset, int) and offset != self.position:
                    self._move_to(offset)
                    continue
                if error.code not in _CONNECTION_LOST:
                    raise
                self._move_to(self._server_offset(error))
                continue
            offset = answer.get("offset")
            if offset != self.position + len(self.pending):
                raise self.client._violation(f"uploads.append answered offset {offset!r}")
            self.position = offset
            self.pending = b""

    def _server_offset(self, lost: CairnError) -> int:
        """The upload's offset, asked on a new connection after `lost`."""
        try:
            status = self.client._call("uploads.status", {"uploadId": self.upload_id}, resumable=True, patient=True)
            return status["offset"]
        except CairnError as error:
            if error.code in _CONNECTION_LOST:
                raise CairnError(
                    ErrorCode.CONNECTION_CLOSED,
                    f"{lost.message}; could not reach the server again to resume upload "
                    f"{self.upload_id} ({error.message})",
                    {"socket": self.client.socket_path},
                ) from error
            raise

    def _move_to(self, offset: int) -> None:
        """Continues from `offset`, the bytes the server holds: drops what
        it holds of the pending bytes, reads ahead to it, or reads the
        source again from the start when the server holds less than was
        acknowledged (after a power loss, say)."""
        read = self.position + len(self.pending)
        if offset < self.position:
            if not self.source.rewind():
                raise CairnError(
                    ErrorCode.OFFSET_MISMATCH,
                    f"the server holds {offset} bytes of upload {self.upload_id}, fewer than were acknowledged, "
                    "and the source cannot be read again; begin a new upload",
                    {"offset": offset, "uploadId": self.upload_id, "side": "client"},
                )
            self.digest = hashlib.sha256()
            self.position = read = 0
            self.pending = b""
        if offset <= read:
            self.pending = self.pending[offset - self.position :]
            self.position = offset
            return
        # The server holds more than was read here: read (and hash) up to it.
        self.position, self.pending = read, b""
        while self.position < offset:
            piece = self.source.read(min(self.chunk, offset - self.position))
            if not piece:
                raise CairnError(
                    ErrorCode.SIZE_MISMATCH,
                    f"upload {self.upload_id} holds {offset} bytes, more than the content given to continue it",
                    {"expected": offset, "actual": self.position, "uploadId": self.upload_id, "side": "client"},
                )
            self.digest.update(piece)
            self.position += len(piece)

    def _commit(self, sha256: str, artifact_id: Optional[str]) -> UploadedArtifact:
        try:
            return self.client.uploads_commit(self.upload_id, sha256=sha256, artifact_id=artifact_id)
        except CairnError as error:
            if error.code not in _CONNECTION_LOST:
                raise
            # The commit may or may not have been carried out: if the upload is still open, it was not.
            try:
                self._server_offset(error)
            except CairnError as gone:
                if gone.code != ErrorCode.NOT_FOUND:
                    raise
                raise CairnError(
                    ErrorCode.CONNECTION_CLOSED,
                    f"the connection broke during the commit of upload {self.upload_id}, which is gone since: "
                    f"the artifact was most likely stored; blobs_stat(tenant, {sha256!r}) lists it",
                    {"socket": self.client.socket_path, "sha256": sha256},
                ) from error
            return self.client.uploads_commit(self.upload_id, sha256=sha256, artifact_id=artifact_id)

    def _abort(self) -> None:
        """Aborts the upload if the connection still works; best effort."""
        client = self.client
        connection = client._connection
        if connection is None or not connection.usable:
            return
        try:
            client.uploads_abort(self.upload_id)
        except CairnError:
            pass


def _params(**values: Any) -> Dict[str, Any]:
    """The params whose value is not ``None`` (optional params left out)."""
    return {key: value for key, value in values.items() if value is not None}


def _check_digest(actual: str, expected: Optional[str], whose: str) -> None:
    """``DIGEST_MISMATCH`` (found by the client) unless `actual` is `expected`."""
    if actual != expected:
        raise CairnError(
            ErrorCode.DIGEST_MISMATCH,
            f"the bytes received have sha256 {actual}, not {whose} {expected}",
            {"expected": expected, "actual": actual, "side": "client"},
        )


def _write_atomically(path: str, write: Callable[[IO[bytes]], _Result]) -> _Result:
    """Runs `write` on a new 0600 file beside `path`, then flushes it and
    renames it over `path`; removes it on any failure."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.cairn-tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            result = write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
    return result
