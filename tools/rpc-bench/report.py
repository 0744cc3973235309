#!/usr/bin/env python3
"""Formats what tools/rpc-bench/run measured: a plain table on standard output,
and the same as markdown when a file is named.

  report.py WORK_DIR MARKDOWN_FILE|-

WORK_DIR holds info.json (machine, command, load), latency.jsonl,
cpu-cairn.jsonl, cpu-floor.jsonl and rates.tsv (label, value per line, one
line per round). Standard library only.
"""
import json, os, statistics, sys

LABELS = {
    "meta": "artifacts.meta",
    "read4k": "artifacts.read 4 KiB, binary",
    "health": "system.health",
    "readiness": "providers.readiness",
    "usage": "tenants.usage",
}
TARGETS = {"meta": 1.3, "read4k": 1.5}


def jsonl(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {o["name"]: o for o in map(json.loads, f) if o}


def rates(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    out.setdefault(parts[0], []).append(float(parts[1]))
    return out


def spread(values):
    """median (min–max) of the rounds."""
    m = statistics.median(values)
    if len(values) == 1:
        return m, f"{m:,.0f}"
    return m, f"{m:,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def main(work, markdown):
    info = json.load(open(os.path.join(work, "info.json")))
    lat = jsonl(os.path.join(work, "latency.jsonl"))
    cpu = jsonl(os.path.join(work, "cpu-cairn.jsonl"))
    cpu_floor = jsonl(os.path.join(work, "cpu-floor.jsonl"))
    r = rates(os.path.join(work, "rates.tsv"))

    head1 = ["request (one connection, one at a time)", "answer bytes", "cairn µs p50 (p10–p90)", "floor µs p50 (p10–p90)",
             "cairn/floor", "target", "server CPU µs/req (floor)"]
    rows1 = []
    for name, label in LABELS.items():
        if name not in lat:
            continue
        o = lat[name]
        c, f = o["cairn"], o["floor"]
        ratio = c["p50"] / f["p50"]
        target = TARGETS.get(name)
        verdict = "" if target is None else f"≤ {target}× ({'met' if ratio <= target else 'missed'})"
        cpu_text = ""
        if name in cpu:
            cpu_text = f"{cpu[name]['serverCpuUs']:.1f}"
            if name in cpu_floor:
                cpu_text += f" ({cpu_floor[name]['serverCpuUs']:.1f})"
        rows1.append([label, str(o["responseBytes"]), f"{c['p50']:.1f} ({c['p10']:.1f}–{c['p90']:.1f})",
                      f"{f['p50']:.1f} ({f['p10']:.1f}–{f['p90']:.1f})", f"{ratio:.2f}×", verdict, cpu_text])

    head2 = ["requests per second", "median (min–max) of rounds", "note"]
    rows2 = []

    def add(label, key, note=""):
        if key in r:
            rows2.append([label, spread(r[key])[1], note])

    add("cairn artifacts.meta, 8 connections (8 processes)", "cairn8", "one request at a time per connection")
    add("PostgreSQL pk lookup, 8 connections, psycopg2 (8 processes)", "pgpy8", "prepared, one at a time per connection")
    add("PostgreSQL pk lookup, pgbench -c 8 -j 8 -M prepared", "pgbench8", "C client")
    add("cairn artifacts.meta, 1 connection", "cairn1", "")
    add("PostgreSQL pk lookup, 1 connection, psycopg2", "pgpy1", "")
    add("PostgreSQL pk lookup, pgbench -c 1 -M prepared", "pgbench1", "")
    if "cairn8" in r:
        c8 = statistics.median(r["cairn8"])
        for key, label in (("pgpy8", "psycopg2"), ("pgbench8", "pgbench")):
            if key in r:
                ratio = c8 / statistics.median(r[key])
                rows2.append([f"cairn 8 / PostgreSQL 8 ({label})", f"{ratio:.2f}×", f"target ≥ 2× ({'met' if ratio >= 2 else 'missed'})"])
    if "pipelined" in r:
        m, text = spread(r["pipelined"])
        rows2.append(["cairn artifacts.meta, 1 pipelined connection", text,
                      f"target ≥ 140,000–166,000 ({'met' if m >= 140000 else 'missed'}); tools/service-bench/plain_client.py meta-rps"])

    preamble = [
        f"machine: {info['machine']}",
        f"command: {info['command']}",
        f"load average (1 min): {info['loadStart']} at the start, {info['loadEnd']} at the end",
        f"one-at-a-time rows: {info['requests']} round trips each for cairn and for the floor, in {info['blocks']} alternating blocks; "
        f"rates: {info['rounds']} round(s) of {info['seconds']} s each",
    ]
    notes = info.get("notes", [])

    def plain(head, rows):
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
        return [line(head), line(["-" * w for w in widths])] + [line(row) for row in rows]

    def md(head, rows):
        return ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)] + ["| " + " | ".join(row) + " |" for row in rows]

    text = preamble + [""] + plain(head1, rows1) + [""] + plain(head2, rows2) + [""] + notes
    print("\n".join(text))
    if markdown != "-":
        body = [p + "  " for p in preamble] + [""] + md(head1, rows1) + [""] + md(head2, rows2) + [""] + [f"- {n}" for n in notes]
        with open(markdown, "w") as f:
            f.write("\n".join(body).rstrip() + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
