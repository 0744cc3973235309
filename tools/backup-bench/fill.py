"""Fills a Cairn tenant with COUNT artifacts of SIZE random bytes, and writes the
same bytes as files into DIR (for rclone to copy), over the Python client.

    python3 fill.py SOCKET TENANT COUNT SIZE DIR
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
from cairn_client import Client  # noqa: E402

socket_path, tenant, count, size, directory = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
os.makedirs(directory, exist_ok=True)
with Client(socket_path) as cairn:
    for index in range(count):
        data = os.urandom(size)
        cairn.upload(tenant, "bench", data, mime_type="application/octet-stream")
        with open(os.path.join(directory, "%05d" % index), "wb") as out:
            out.write(data)
