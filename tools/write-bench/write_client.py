#!/usr/bin/env python3
"""Clients for the small-durable-write benchmark (tools/write-bench/run).

Standard library only; the PostgreSQL worker imports psycopg2 (Debian's
python3-psycopg2) only when it runs.

Three writers of 4 KiB, each byte string new (os.urandom), one at a time:
  floor  a new file in the work dir: os.write of 4096 bytes, then os.fdatasync
  cairn  one connection to `cairn serve`: an artifacts.upload line with
         "dataLength": 4096 and the 4096 raw bytes after it; the answer is
         read before the next, and must be a result whose sizeBytes and
         sha256 are those of the bytes sent and that was not deduplicated
  pg     one psycopg2 connection in autocommit: a prepared INSERT of a row
         (a new uuid, the tenant, the bytes as bytea), each its own commit

  write_client.py sequential WORKDIR SOCKET N BLOCKS [PGSOCKETDIR:DB:USER]
      BLOCKS blocks of N writes of each writer in turn (floor, cairn, pg),
      after a warm-up; prints one JSON object: the rate per block of each
  write_client.py parallel floor|cairn|pg TARGET CONNS SECONDS
      CONNS processes, one file or connection each, writing for SECONDS from
      a common start; prints one JSON object: the aggregate rate per second
      and each process's count (TARGET: the work dir, the socket, or
      PGSOCKETDIR:DB:USER)
  write_client.py count SOCKET TENANT
      the tenant's artifactCount (tenants.usage)
  write_client.py report WORKDIR
      the Markdown report from WORKDIR/info.json, sequential.json and
      parallel.jsonl
"""
import hashlib, itertools, json, os, socket, statistics, sys, time, uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from common_start import run_workers, serve_worker  # noqa: E402

SIZE = 4096
TENANT = "bench"
_floor_files = itertools.count()


def floor_writer(workdir):
    path = os.path.join(workdir, f"floor-{os.getpid()}-{next(_floor_files)}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    def one():
        if os.write(fd, os.urandom(SIZE)) != SIZE:
            raise SystemExit("short write")
        os.fdatasync(fd)
    return one, lambda: os.close(fd)


class Cairn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.reader = self.sock.makefile("rb", buffering=1 << 16)
        self.ids = itertools.count(1)
        self.uploads = 0
        self.last = None

    def call(self, method, params, attachment=b""):
        rid = next(self.ids)
        line = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, separators=(",", ":")).encode()
        self.sock.sendall(line + b"\n" + attachment)
        answer = self.reader.readline()
        if not answer:
            raise SystemExit(f"cairn closed the connection after {method}")
        reply = json.loads(answer)
        if "result" not in reply or reply.get("id") != rid:
            raise SystemExit(f"{method}: not a result: {answer[:400]!r}")
        return reply["result"]

    def upload(self):
        data = os.urandom(SIZE)
        result = self.call("artifacts.upload", {"tenant": TENANT, "providerId": "bench",
                                                "mimeType": "application/octet-stream", "dataLength": SIZE}, data)
        digest = hashlib.sha256(data).hexdigest()
        if result.get("sizeBytes") != SIZE or result.get("sha256") != digest or result.get("deduplicated") is not False:
            raise SystemExit(f"artifacts.upload: the answer is not of the bytes sent (sha256 {digest}): {result}")
        self.uploads += 1
        self.last = {"sha256": result["sha256"], "sent": digest, "artifactId": result["artifactId"]}

    def close(self):
        self.sock.close()


def cairn_writer(path):
    c = Cairn(path)
    return c.upload, c.close, c


def pg_writer(spec, counter=None):
    import psycopg2
    socket_dir, db, user = spec.split(":")
    conn = psycopg2.connect(host=socket_dir, dbname=db, user=user)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("PREPARE ins(uuid, text, bytea) AS INSERT INTO blobs (id, tenant, data) VALUES ($1, $2, $3)")

    def one():
        cur.execute("EXECUTE ins(%s, %s, %s)", (str(uuid.uuid4()), TENANT, psycopg2.Binary(os.urandom(SIZE))))
        if cur.rowcount != 1:
            raise SystemExit(f"INSERT: rowcount {cur.rowcount}")
        if counter is not None:
            counter[0] += 1
    return one, conn.close


def timed(one, n):
    start = time.perf_counter()
    for _ in range(n):
        one()
    return n / (time.perf_counter() - start)


def sequential(workdir, sock, n, blocks, pg=None):
    cairn_one, cairn_close, cairn = cairn_writer(sock)
    writers = [("cairn", cairn_one)]
    closers = [cairn_close]
    pg_inserts = [0]
    if pg:
        pg_one, pg_close = pg_writer(pg, pg_inserts)
        writers.append(("pg", pg_one))
        closers.append(pg_close)
    rates = {"floor": [], "cairn": [], "pg": []}
    warm, warm_close = floor_writer(workdir)
    for one in [warm] + [w for _, w in writers]:  # warm up every writer (the tenant, the table, the files)
        for _ in range(max(50, n // 20)):
            one()
    warm_close()
    for _ in range(blocks):
        floor_one, floor_close = floor_writer(workdir)  # a new file per block
        rates["floor"].append(timed(floor_one, n))
        floor_close()
        for name, one in writers:
            rates[name].append(timed(one, n))
    for close in closers:
        close()
    print(json.dumps({"n": n, "blocks": blocks, "rates": rates, "cairnUploadsChecked": cairn.uploads, "lastUpload": cairn.last,
                      "pgInserts": pg_inserts[0]}))


def worker(kind, target):
    if kind == "floor":
        one, close = floor_writer(target)
    elif kind == "cairn":
        one, close, _ = cairn_writer(target)
    else:
        one, close = pg_writer(target)
    serve_worker(one, close)


def parallel(kind, target, conns, seconds):
    counts = run_workers(__file__, [kind, target], conns, seconds, kind)
    print(json.dumps({"kind": kind, "conns": conns, "seconds": seconds, "rate": sum(counts) / seconds, "counts": counts}))


def count(sock, tenant):
    c = Cairn(sock)
    print(c.call("tenants.usage", {"tenant": tenant})["artifactCount"])
    c.close()


def report(workdir):
    info = json.load(open(os.path.join(workdir, "info.json")))
    seq = json.load(open(os.path.join(workdir, "sequential.json")))
    par, sent, inserted = {}, seq["cairnUploadsChecked"], seq["pgInserts"]
    path = os.path.join(workdir, "parallel.jsonl")
    if os.path.exists(path):
        for line in open(path):
            row = json.loads(line)
            par.setdefault((row["kind"], row["conns"]), []).append(row["rate"])
            if row["kind"] == "cairn":
                sent += sum(row["counts"])
            if row["kind"] == "pg":
                inserted += sum(row["counts"])
    floor = statistics.median(seq["rates"]["floor"])

    def cells(rates):
        if not rates:
            return None
        return f"{statistics.median(rates):,.0f}", f"{min(rates):,.0f}–{max(rates):,.0f}", statistics.median(rates) / floor

    out = ["# Small durable writes (tools/write-bench)", "",
           f"- Machine: {info['machine']}",
           f"- Work dir filesystem: {info['filesystem']}",
           f"- Command: `{info['command']}`",
           f"- Load average (1 min): {info['loadStart']} at the start, {info['loadEnd']} at the end",
           f"- Sequential: {seq['blocks']} blocks of {seq['n']:,} writes of each writer in turn, one client; "
           f"8 clients: {info['rounds']} round{'s' if info['rounds'] != 1 else ''} of {info['seconds']} s, one process and one connection (or file) each, from a common start",
           "", "| 4 KiB writes, one at a time | per second (median) | min–max | × floor |", "| --- | ---: | ---: | ---: |"]
    rows = [("floor", "floor: `os.write` + `os.fdatasync`, one file, one Python loop", seq["rates"]["floor"]),
            ("cairn", "Cairn: `artifacts.upload` (binary attachment), one connection", seq["rates"]["cairn"]),
            ("pg", "PostgreSQL: INSERT of a bytea row, autocommit, one connection", seq["rates"]["pg"]),
            ("floor8", "floor: 8 processes, one file each", par.get(("floor", 8))),
            ("cairn8", "Cairn: 8 connections in total", par.get(("cairn", 8))),
            ("pg8", "PostgreSQL: 8 connections in total", par.get(("pg", 8)))]
    results = {}
    for key, label, rates in rows:
        c = results[key] = cells(rates)
        if c is None:
            out.append(f"| {label} | not run | | |")
        else:
            out.append(f"| {label} | {c[0]} | {c[1]} | {c[2]:.2f}× |")
    out.append("")
    cs, ps, c8 = results["cairn"], results["pg"], results["cairn8"]

    def verdict(ok):
        return "met" if ok else "not met"
    targets = [f"Cairn sequential ≥ 0.5× the floor: {cs[2]:.2f}×, {verdict(cs[2] >= 0.5)}"]
    if ps:
        targets.append(f"ahead of PostgreSQL sequential: {cs[2] / ps[2]:.2f}× its rate, {verdict(cs[2] > ps[2])}")
    if c8:
        targets.append(f"Cairn 8 clients ≥ 1.0× the floor: {c8[2]:.2f}×, {verdict(c8[2] >= 1.0)}")
    out.append("Issue 14's targets, in this run: " + "; ".join(targets) + ".")
    ratios = [c / f for c, f in zip(seq["rates"]["cairn"], seq["rates"]["floor"])]
    out += ["", "Notes:",
            f"- Cairn ÷ floor block by block (each Cairn block right after its floor block): "
            + ", ".join(f"{r:.2f}" for r in ratios) + "."]
    last = seq["lastUpload"]
    out.append(f"- Checks: every Cairn answer was a `result` whose sizeBytes and sha256 were those of the bytes sent, not deduplicated "
               f"({seq['cairnUploadsChecked']:,} sequential uploads, warm-up included, and every parallel one; the last: sha256 {last['sha256'][:16]}…, "
               f"sent {last['sent'][:16]}…); the tenant held {info['artifactCount']:,} artifacts at the end, "
               f"{sent:,} uploads counted by the clients"
               + (f"; the PostgreSQL table held {info['pgRows']:,} rows, {inserted:,} inserts counted by the clients." if info.get("pgRows") is not None else "."))
    out += [f"- {n}." for n in info["notes"]]
    print("\n".join(out))


if __name__ == "__main__":
    mode, *rest = sys.argv[1:] or [""]
    if mode == "sequential":
        sequential(rest[0], rest[1], int(rest[2]), int(rest[3]), rest[4] if len(rest) > 4 else None)
    elif mode == "parallel":
        parallel(rest[0], rest[1], int(rest[2]), float(rest[3]))
    elif mode == "worker":
        worker(rest[0], rest[1])
    elif mode == "count":
        count(rest[0], rest[1])
    elif mode == "report":
        report(rest[0])
    else:
        raise SystemExit(__doc__)
