#!/usr/bin/env python3
"""Writes a Cairn export (docs/auditing.md) of COUNT random artifacts of SIZE bytes into DIR,
without a server: EXPORT.json with the manifest and its canonical digest, and blobs/sha256/HEX.

    make_export.py DIR COUNT SIZE
"""
import hashlib
import json
import os
import sys
import uuid


def main():
    directory, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(os.path.join(directory, "blobs", "sha256"), mode=0o700)
    artifacts = []
    for _ in range(count):
        content = os.urandom(size)
        digest = hashlib.sha256(content).hexdigest()
        with open(os.path.join(directory, "blobs", "sha256", digest), "wb") as f:
            f.write(content)
        artifacts.append({"artifactId": str(uuid.uuid4()), "sha256": digest, "sizeBytes": size,
                          "providerId": "bench", "mimeType": "application/octet-stream"})
    artifacts.sort(key=lambda a: a["artifactId"])
    logical = count * size
    text = "cairn-manifest 1\ntenant bench\n"
    text += f"usage {count} {logical} {logical}\nquota none none\nevents 0 none\n"
    for a in artifacts:
        text += f"artifact {a['artifactId']} {a['sha256']} {a['sizeBytes']} {a['providerId']} {a['mimeType']}\n"
    manifest = {
        "tenant": "bench", "digest": hashlib.sha256(text.encode()).hexdigest(),
        "usage": {"artifactCount": count, "logicalBytes": logical, "storedBytes": logical,
                  "maxBytes": None, "maxArtifacts": None},
        "events": {"seq": 0, "head": None}, "artifacts": artifacts, "configurations": [],
    }
    document = {
        "format": "cairn-export", "version": 1, "exportedAt": "2026-12-07T00:00:00Z", "tenant": "bench",
        "manifest": manifest,
        "blobs": [{"path": f"blobs/sha256/{a['sha256']}", "sha256": a["sha256"], "sizeBytes": size}
                  for a in artifacts],
        "configurations": [],
    }
    with open(os.path.join(directory, "EXPORT.json"), "w") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
