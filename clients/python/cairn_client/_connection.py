"""One connection to ``cairn serve``: framing, ids, attachments.

Private to the package; :class:`cairn_client.Client` is the public face.
"""

from __future__ import annotations

import errno
import json
import select
import socket
from typing import Any, Dict, Optional, Tuple, Union

from .errors import CairnError, ErrorCode

Bytes = Union[bytes, bytearray, memoryview]

# Read-ahead of the response stream. Attachments larger than this are read
# straight from the socket by the buffered reader, without an extra copy.
_READ_BUFFER = 1 << 16


class Connection:
    """A Unix-socket connection speaking line-delimited JSON-RPC 2.0.

    Sends one request and reads its response before the next
    (:meth:`request`); the :class:`~cairn_client.Client` serialises callers.
    Any failure in the middle of an exchange leaves the stream unframed, so
    the connection then closes itself and :attr:`usable` turns false.
    """

    def __init__(self, path: str, timeout: Optional[float]) -> None:
        self.path = path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
        except OSError as error:
            sock.close()
            raise CairnError(
                ErrorCode.CONNECTION_FAILED,
                f"cannot reach the server at {path}: {_reason(error)}; is `cairn serve` running? "
                "Name its socket with socket_path= or CAIRN_SOCKET.",
                {"socket": path, "errno": error.errno},
            ) from error
        self._socket = sock
        self._reader = sock.makefile("rb", buffering=_READ_BUFFER)
        self._next_id = 1
        self.usable = True
        #: ``system.hello``'s result on this connection, once asked.
        self.hello: Optional[Dict[str, Any]] = None

    def close(self) -> None:
        """Closes the connection; idempotent."""
        self.usable = False
        try:
            self._reader.close()
        finally:
            self._socket.close()

    def closed_by_server(self) -> bool:
        """Whether the server has closed its end (e.g. after its idle timeout).

        Checked before a request is sent, without blocking, so that a request
        goes to a fresh connection instead of a dead one. Unexpected bytes
        waiting on an idle connection count as closed too: the stream is no
        longer framed.
        """
        if not self.usable:
            return True
        try:
            # Not recv(MSG_DONTWAIT) alone: with a timeout set, Python waits for data before it calls recv.
            readable, _, _ = select.select([self._socket], [], [], 0)
            if not readable:
                return False
            self._socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except (OSError, ValueError):
            return True
        return True  # b"" is the server's end of stream; anything else is unframed

    def request(
        self,
        method: str,
        params: Dict[str, Any],
        attachment: Optional[Bytes] = None,
        binary_response: bool = False,
    ) -> Tuple[Any, Optional[bytes]]:
        """Sends one request and returns its result and the raw bytes that
        followed the response line, if any.

        Args:
            method: the contract's method name, e.g. ``"artifacts.meta"``.
            params: the params object.
            attachment: bytes to send after the line; ``params`` must hold
                ``dataLength`` already.
            binary_response: whether the result may announce ``dataLength``
                raw bytes (``artifacts.read`` with ``binary: true``).

        Raises:
            CairnError: the server's error, or ``CONNECTION_CLOSED``,
                ``TIMEOUT`` or ``PROTOCOL_ERROR`` (after which the connection is
                closed).
        """
        if not self.usable:
            raise self._closed("the connection was closed")
        request_id = self._next_id
        self._next_id += 1
        line = json.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        try:
            try:
                if attachment is not None and len(attachment) <= _READ_BUFFER:
                    self._socket.sendall(line + b"\n" + bytes(attachment))
                else:
                    self._socket.sendall(line + b"\n")
                    if attachment is not None:
                        self._socket.sendall(attachment)
            except (BrokenPipeError, ConnectionResetError):
                # The server may have answered (and closed) before reading all of it,
                # e.g. REQUEST_TOO_LARGE: read what it said.
                pass
            answer = self._reader.readline()
            if not answer.endswith(b"\n"):
                raise self._closed(f"the server closed the connection before answering {method}")
            response = self._parse(answer, request_id)
            if "error" in response:
                raise CairnError.from_response(response["error"])
            result = response.get("result")
            payload: Optional[bytes] = None
            if binary_response and isinstance(result, dict) and "dataLength" in result:
                length = result["dataLength"]
                if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                    raise self._violation(f"{method} announced dataLength {length!r}")
                payload = self._reader.read(length) if length else b""
                if len(payload) != length:
                    raise self._closed(f"the server closed the connection in the middle of {method}'s bytes")
            return result, payload
        except CairnError as error:
            if error.rpc_code is None:
                self.close()
            raise
        except socket.timeout as error:
            self.close()
            raise CairnError(
                ErrorCode.TIMEOUT, f"no answer to {method} from {self.path} in time", {"socket": self.path}
            ) from error
        except OSError as error:
            self.close()
            raise self._closed(f"the connection to the server broke during {method}: {_reason(error)}") from error
        except BaseException:
            # Interrupted (KeyboardInterrupt, …) mid-exchange: the stream is no longer framed.
            self.close()
            raise

    def _parse(self, line: bytes, request_id: int) -> Dict[str, Any]:
        try:
            response = json.loads(line)
        except ValueError:
            raise self._violation(f"the server sent a line that is not JSON: {line[:200]!r}") from None
        if not isinstance(response, dict) or response.get("jsonrpc") != "2.0":
            raise self._violation(f"the server sent something that is not a JSON-RPC response: {line[:200]!r}")
        if response.get("id") != request_id:
            # id null: the server could not read the request (e.g. REQUEST_TOO_LARGE) and says why.
            if response.get("id") is None and "error" in response:
                self.close()  # the server may close after such an error; start afresh either way
                raise CairnError.from_response(response["error"])
            raise self._violation(f"the server answered id {response.get('id')!r}, not {request_id}")
        if ("result" in response) == ("error" in response):
            raise self._violation("the response has both or neither of result and error")
        return response

    def _closed(self, message: str) -> CairnError:
        self.close()
        return CairnError(ErrorCode.CONNECTION_CLOSED, message, {"socket": self.path})

    def _violation(self, message: str) -> CairnError:
        self.close()
        return CairnError(ErrorCode.PROTOCOL_ERROR, message, {"socket": self.path})


def _reason(error: OSError) -> str:
    """The system's reason for `error`, in a few words."""
    words = {
        errno.ENOENT: "no socket there",
        errno.ECONNREFUSED: "nothing listens there",
        errno.EACCES: "permission denied",
        errno.ENOTDIR: "no socket there",
    }
    return words.get(error.errno or 0, error.strerror or str(error))
