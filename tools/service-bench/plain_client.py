#!/usr/bin/env python3
"""A plain JSON-RPC client of a Cairn server, for the service benchmark.

Speaks only line-delimited JSON with base64 `data` (no attachments), the way
a script in any language would, plus a few load modes. Standard library only.

  plain_client.py SOCKET put TENANT FILE            base64 uploads.begin/append/commit
  plain_client.py SOCKET get TENANT ID              base64 reads to nowhere, digest checked
  plain_client.py SOCKET meta-rps TENANT ID N CONNS pipelined artifacts.meta, N per connection
  plain_client.py SOCKET upload-rps TENANT N CONNS  artifacts.upload of 4 KiB of new content, one at a time,
                                                    N per connection (each a durable commit)
  plain_client.py SOCKET watch PID OUT              samples RssAnon of PID until killed
"""
import base64, hashlib, json, os, socket, sys, threading, time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s, s.makefile("rb", buffering=1 << 20)


def call(sock, reader, rid, method, params):
    sock.sendall(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n")
    reply = json.loads(reader.readline())
    if "error" in reply:
        raise SystemExit(f"{method}: {reply['error']}")
    return reply["result"]


def put(path, tenant, file):
    sock, reader = connect(path)
    size = os.path.getsize(file)
    up = call(sock, reader, 1, "uploads.begin", {"tenant": tenant, "providerId": "bench", "mimeType": "application/octet-stream", "sizeBytes": size})
    digest, offset = hashlib.sha256(), 0
    with open(file, "rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
            offset = call(sock, reader, 2, "uploads.append", {"uploadId": up["uploadId"], "offset": offset, "data": base64.b64encode(chunk).decode()})["offset"]
    meta = call(sock, reader, 3, "uploads.commit", {"uploadId": up["uploadId"], "sha256": digest.hexdigest()})
    print(meta["artifactId"])


def get(path, tenant, artifact):
    sock, reader = connect(path)
    digest, offset = hashlib.sha256(), 0
    while True:
        r = call(sock, reader, 1, "artifacts.read", {"tenant": tenant, "artifactId": artifact, "offset": offset})
        data = base64.b64decode(r["data"], validate=True)
        digest.update(data)
        offset += len(data)
        if r["eof"]:
            break
    if digest.hexdigest() != r["sha256"]:
        raise SystemExit("digest mismatch")


def meta_rps(path, tenant, artifact, n, conns):
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "artifacts.meta", "params": {"tenant": tenant, "artifactId": artifact}}).encode() + b"\n"

    def one():
        sock, reader = connect(path)
        sender = threading.Thread(target=lambda: sock.sendall(line * n))
        sender.start()
        for _ in range(n):
            if b'"result"' not in reader.readline():
                raise SystemExit("meta failed")
        sender.join()

    start = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    print(f"{n * conns / elapsed:.0f}")


def upload_rps(path, tenant, n, conns):
    failures = []

    def one(connection):
        sock, reader = connect(path)
        try:
            for i in range(n):
                data = base64.b64encode(os.urandom(4096)).decode()
                call(sock, reader, i, "artifacts.upload", {"tenant": tenant, "providerId": f"small{connection}", "mimeType": "application/octet-stream", "data": data})
        except SystemExit as failure:
            failures.append(failure)

    start = time.perf_counter()
    threads = [threading.Thread(target=one, args=(c,)) for c in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    print(f"{n * conns / elapsed:.0f}")


def watch(pid, out):
    peak = 0
    try:
        while True:
            with open(f"/proc/{pid}/status") as f:
                for l in f:
                    if l.startswith("RssAnon:"):
                        peak = max(peak, int(l.split()[1]))
            # Atomically: the script kills this process at any moment and then reads the file.
            with open(out + ".tmp", "w") as f:
                f.write(str(peak))
            os.replace(out + ".tmp", out)
            time.sleep(0.005)
    except (FileNotFoundError, ProcessLookupError):
        pass


if __name__ == "__main__":
    sock, mode, *rest = sys.argv[1:]
    if mode == "put":
        put(sock, *rest)
    elif mode == "get":
        get(sock, *rest)
    elif mode == "meta-rps":
        meta_rps(sock, rest[0], rest[1], int(rest[2]), int(rest[3]))
    elif mode == "upload-rps":
        upload_rps(sock, rest[0], int(rest[1]), int(rest[2]))
    elif mode == "watch":
        watch(int(rest[0]), rest[1])
