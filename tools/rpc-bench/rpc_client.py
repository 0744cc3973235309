#!/usr/bin/env python3
"""A plain Python client of a Cairn server, for the small-request benchmark.

Talks to the socket the way a local Python service would: one request at a
time, waiting for each answer, reading a binary attachment when the answer
announces one. Standard library only (the PostgreSQL worker imports psycopg2,
from Debian's python3-psycopg2, only when asked to run).

  rpc_client.py stage SOCKET TENANT DIR
      uploads a 2 KiB artifact (a cosign key of excititor:oci-openvex, set as
      that provider's cosignKey, so readiness reads it back) and a 4 KiB one;
      writes DIR/NAME.req (one request line) and DIR/NAME.resp (Cairn's answer
      to it, byte for byte, attachment included) for each measured request,
      and DIR/ids.json
  rpc_client.py latency SOCKET ECHO_SOCKET DIR N BLOCKS NAME...
      N timed round trips per NAME against Cairn and as many against the echo
      floor, in BLOCKS alternating blocks (both see the same neighbours);
      prints one JSON object per NAME: percentiles in microseconds
  rpc_client.py cpu cairn|floor SOCKET DIR N NAME...
      server CPU (utime+stime of /proc/PID/stat, the server's pid read from
      the socket's SO_PEERCRED) around N one-at-a-time requests per NAME;
      prints one JSON object per NAME: microseconds of server CPU per request
  rpc_client.py parallel cairn SOCKET REQFILE CONNS SECONDS
  rpc_client.py parallel pg SOCKETDIR:DB:USER:ROWS CONNS SECONDS
      CONNS processes, one connection each, one request at a time, for
      SECONDS from a common start; prints the aggregate requests per second
"""
import base64, gc, json, os, socket, struct, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from common_start import run_workers, serve_worker  # noqa: E402


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s, s.makefile("rb", buffering=1 << 16)


def round_trip(sock, reader, line):
    """One request, its answer parsed, its attachment (if any) read in full."""
    sock.sendall(line)
    reply = json.loads(reader.readline())
    result = reply.get("result")
    if result is None:
        raise SystemExit(f"error answer: {reply}")
    n = result.get("dataLength")
    if n:
        if len(reader.read(n)) != n:
            raise SystemExit("short attachment")
    return reply


def request(rid, method, params):
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, separators=(",", ":")).encode() + b"\n"


def call(sock, reader, method, params):
    return round_trip(sock, reader, request(1, method, params))["result"]


def raw_answer(sock, reader, line):
    """Cairn's answer to LINE exactly as it came: the JSON line plus the attachment bytes."""
    sock.sendall(line)
    head = reader.readline()
    n = json.loads(head).get("result", {}).get("dataLength") or 0
    return head + reader.read(n)


def stage(path, tenant, out):
    sock, reader = connect(path)
    provider = "excititor:oci-openvex"
    head, foot = b"-----BEGIN PUBLIC KEY-----\n", b"-----END PUBLIC KEY-----\n"
    key = head + base64.encodebytes(os.urandom(1600))[:2047 - len(head) - len(foot)] + b"\n" + foot  # 2 KiB
    small = call(sock, reader, "artifacts.upload", {"tenant": tenant, "providerId": provider, "mimeType": "application/x-pem-file", "data": base64.b64encode(key).decode()})
    large = call(sock, reader, "artifacts.upload", {"tenant": tenant, "providerId": "bench", "mimeType": "application/octet-stream", "data": base64.b64encode(os.urandom(4096)).decode()})
    snapshot = call(sock, reader, "providers.config.set", {"tenant": tenant, "providerId": provider, "values": {
        "imageSubscriptions": ["platform/gateway:2.0"], "cosignMode": "keypair", "cosignKey": small["artifactId"]}})
    if not snapshot["readiness"]["ready"]:
        raise SystemExit(f"provider not ready: {snapshot['readiness']}")
    requests = {
        "meta": ("artifacts.meta", {"tenant": tenant, "artifactId": large["artifactId"]}),
        "read4k": ("artifacts.read", {"tenant": tenant, "artifactId": large["artifactId"], "binary": True}),
        "health": ("system.health", {}),
        "readiness": ("providers.readiness", {"tenant": tenant, "providerId": provider}),
        "usage": ("tenants.usage", {"tenant": tenant}),
    }
    for name, (method, params) in requests.items():
        line = request(1, method, params)
        answer = raw_answer(sock, reader, line)
        if b'"result"' not in answer.split(b"\n", 1)[0]:
            raise SystemExit(f"{name}: {answer[:300]!r}")
        with open(os.path.join(out, name + ".req"), "wb") as f:
            f.write(line)
        with open(os.path.join(out, name + ".resp"), "wb") as f:
            f.write(answer)
    with open(os.path.join(out, "ids.json"), "w") as f:
        json.dump({"small": small["artifactId"], "large": large["artifactId"]}, f)


def percentiles(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))] / 1000
    return {"p10": pick(0.10), "p50": pick(0.50), "p90": pick(0.90), "n": len(s)}


def latency(path, echo_path, directory, n, blocks, names):
    for name in names:
        line = open(os.path.join(directory, name + ".req"), "rb").read()
        size = os.path.getsize(os.path.join(directory, name + ".resp"))
        cairn = connect(path)
        echo = connect(echo_path)
        echo[0].sendall(name.encode() + b".resp\n")
        for conn in (cairn, echo):  # warm up both ends
            for _ in range(max(200, n // 20)):
                round_trip(*conn, line)
        samples = {"cairn": [], "floor": []}
        per_block = max(1, n // blocks)
        gc.disable()
        for _ in range(blocks):
            for label, (sock, reader) in (("cairn", cairn), ("floor", echo)):
                out = samples[label]
                for _ in range(per_block):
                    start = time.perf_counter_ns()
                    round_trip(sock, reader, line)
                    out.append(time.perf_counter_ns() - start)
        gc.enable()
        for sock, _ in (cairn, echo):
            sock.close()
        print(json.dumps({"name": name, "responseBytes": size, "cairn": percentiles(samples["cairn"]), "floor": percentiles(samples["floor"])}), flush=True)


def peer_pid(sock):
    pid, _, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def cpu(kind, path, directory, n, names):
    tick = os.sysconf("SC_CLK_TCK")
    for name in names:
        line = open(os.path.join(directory, name + ".req"), "rb").read()
        sock, reader = connect(path)
        if kind == "floor":
            sock.sendall(name.encode() + b".resp\n")
        pid = peer_pid(sock)
        for _ in range(200):
            round_trip(sock, reader, line)
        before, start = cpu_ticks(pid), time.perf_counter()
        for _ in range(n):
            round_trip(sock, reader, line)
        after, wall = cpu_ticks(pid), time.perf_counter() - start
        sock.close()
        print(json.dumps({"name": name, "n": n, "serverCpuUs": (after - before) / tick / n * 1e6, "wallUs": wall / n * 1e6, "ticks": after - before}), flush=True)


def cairn_worker(path, reqfile):
    line = open(reqfile, "rb").read()
    sock, reader = connect(path)
    round_trip(sock, reader, line)
    return lambda: round_trip(sock, reader, line)


def pg_worker(spec):
    import random
    import psycopg2
    socket_dir, db, user, rows = spec.split(":")
    conn = psycopg2.connect(host=socket_dir, dbname=db, user=user)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("PREPARE lookup(uuid) AS SELECT id, tenant, provider_id, mime_type, size, sha256, staged_at, staged_by FROM artifacts WHERE id = $1")
    cur.execute("SELECT id::text FROM artifacts LIMIT %s", (int(rows),))
    ids = [r[0] for r in cur.fetchall()]
    rng = random.Random(os.getpid())

    def one():
        cur.execute("EXECUTE lookup(%s)", (rng.choice(ids),))
        if cur.fetchone() is None:
            raise SystemExit("row not found")
    one()
    return one


def worker(kind, args):
    serve_worker(cairn_worker(*args) if kind == "cairn" else pg_worker(*args))


def parallel(kind, args, conns, seconds):
    counts = run_workers(__file__, [kind, *args], conns, seconds, kind)
    print(f"{sum(counts) / seconds:.0f}")


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "stage":
        stage(*rest)
    elif mode == "latency":
        latency(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4]), rest[5:])
    elif mode == "cpu":
        cpu(rest[0], rest[1], rest[2], int(rest[3]), rest[4:])
    elif mode == "parallel":
        kind, *args = rest
        parallel(kind, args[:-2], int(args[-2]), float(args[-1]))
    elif mode == "worker":
        worker(rest[0], rest[1:])
    else:
        raise SystemExit(__doc__)
