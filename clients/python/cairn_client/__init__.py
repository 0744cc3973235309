"""A Python client for Cairn, the content-addressed artifact store.

Standard library only. ``Client`` speaks the line-delimited JSON-RPC 2.0
protocol of ``cairn serve`` on its Unix socket, with a method per protocol
method; every failure is a ``CairnError`` carrying the protocol's
``data.code``. See docs/clients.md in the Cairn repository.

    from cairn_client import Client

    with Client() as cairn:
        meta = cairn.upload("acme", "excititor:oci-openvex", "cosign.pub", mime_type="application/x-pem-file")
        assert cairn.read("acme", meta["artifactId"]) == open("cosign.pub", "rb").read()
"""

from .client import DEFAULT_MIME_TYPE, KEEP, Client, default_socket_path
from .errors import CairnError, ErrorCode

__all__ = ["Client", "CairnError", "ErrorCode", "default_socket_path", "DEFAULT_MIME_TYPE", "KEEP"]

__version__ = "0.1.0"
