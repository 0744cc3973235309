"""The one exception type of the Cairn client, and the codes it carries."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

__all__ = ["CairnError", "ErrorCode"]


class ErrorCode:
    """The values :attr:`CairnError.code` takes, as constants.

    The first group is the wire contract's ``data.code``: the server's own
    word for what went wrong. The second group is the client's, for failures
    on this side of the socket; the server never sends them.
    """

    # The contract's codes (protocol version 1), as the server sends them.
    PARSE_ERROR = "PARSE_ERROR"
    INVALID_REQUEST = "INVALID_REQUEST"
    METHOD_NOT_FOUND = "METHOD_NOT_FOUND"
    INVALID_PARAMS = "INVALID_PARAMS"
    INTERNAL = "INTERNAL"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    TOO_LARGE = "TOO_LARGE"
    DIGEST_MISMATCH = "DIGEST_MISMATCH"
    SIZE_MISMATCH = "SIZE_MISMATCH"
    OFFSET_MISMATCH = "OFFSET_MISMATCH"
    ARTIFACT_IN_USE = "ARTIFACT_IN_USE"
    PROVIDER_CONFIG_INVALID = "PROVIDER_CONFIG_INVALID"
    UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
    CONFLICT = "CONFLICT"
    STORE_FULL = "STORE_FULL"
    INTEGRITY_ERROR = "INTEGRITY_ERROR"

    # The client's own codes.
    #: No server could be reached at the socket path (missing, refused,
    #: permission denied). ``data`` holds ``socket`` and ``errno``.
    CONNECTION_FAILED = "CONNECTION_FAILED"
    #: The connection broke while a request was under way (the server went
    #: away, or the connection was dropped). ``data`` holds ``socket``; for an
    #: interrupted upload also ``uploadId`` and ``offset``, to resume it.
    CONNECTION_CLOSED = "CONNECTION_CLOSED"
    #: The server answered something that is not the Cairn protocol.
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    #: No answer within the client's ``timeout``; the connection is dropped.
    TIMEOUT = "TIMEOUT"


# The JSON-RPC numeric codes, for errors whose data carries no code.
_NUMERIC: Dict[int, str] = {
    -32700: ErrorCode.PARSE_ERROR,
    -32600: ErrorCode.INVALID_REQUEST,
    -32601: ErrorCode.METHOD_NOT_FOUND,
    -32602: ErrorCode.INVALID_PARAMS,
    -32603: ErrorCode.INTERNAL,
}


class CairnError(Exception):
    """Every failure the client reports: a refusal by the server, or a
    connection or protocol failure on the way to it.

    Match on :attr:`code`, never on the message: for errors from the server
    it is the contract's ``data.code`` (``"NOT_FOUND"``,
    ``"QUOTA_EXCEEDED"``, …); the client's own codes are listed on
    :class:`ErrorCode`. A digest that does not match on a read is
    ``DIGEST_MISMATCH`` whichever side found it (``data["side"]`` is
    ``"client"`` when this client did).

    Problems with your own files (a path that does not exist, a directory
    that cannot be written) are the :class:`OSError` Python raises, and a
    wrong argument type is a :class:`TypeError`, as usual.

    Attributes:
        code: the contract's ``data.code``, or one of the client's codes.
        message: the server's message (for people; it may change).
        data: the facts beside the code, exactly as the server sent them
            (``field`` for ``INVALID_PARAMS``, ``limit``/``used``/``requested``/
            ``kind`` for ``QUOTA_EXCEEDED``, …), including ``code`` itself.
        rpc_code: the JSON-RPC numeric code (-32000 for application errors),
            or ``None`` for the client's own errors.
    """

    code: str
    message: str
    data: Dict[str, Any]
    rpc_code: Optional[int]

    def __init__(
        self,
        code: str,
        message: str,
        data: Optional[Mapping[str, Any]] = None,
        rpc_code: Optional[int] = None,
    ) -> None:
        self.code = code
        self.message = message
        self.data = dict(data) if data else {}
        self.data.setdefault("code", code)
        self.rpc_code = rpc_code
        super().__init__(f"{code}: {message}")

    @classmethod
    def from_response(cls, error: Any) -> "CairnError":
        """Builds the error from a JSON-RPC error object as the server sent it."""
        if not isinstance(error, dict):
            return cls(ErrorCode.PROTOCOL_ERROR, f"the server sent a malformed error: {error!r}")
        number = error.get("code")
        data: Dict[str, Any] = error["data"] if isinstance(error.get("data"), dict) else {}
        code = data.get("code")
        if not isinstance(code, str):
            code = _NUMERIC.get(number, ErrorCode.INTERNAL) if isinstance(number, int) else ErrorCode.INTERNAL
        message = error.get("message")
        return cls(
            code,
            message if isinstance(message, str) else code,
            data,
            number if isinstance(number, int) else None,
        )

    def __repr__(self) -> str:
        return f"CairnError(code={self.code!r}, message={self.message!r}, data={self.data!r})"
