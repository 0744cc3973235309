#!/usr/bin/env python3
"""Formats what tools/cli-bench/run measured.

  report.py WORK_DIR

WORK_DIR holds info.json (machine, command, load before and after, the
binaries measured), startup.jsonl and transfers.jsonl (timing.py's output).
Prints one table for the one-shot commands (milliseconds, against socat
sending the same hello) and one for the transfers (seconds, against
openssl dgst -sha256 and dd conv=fsync of the same file). Each row: the
median, the quartiles or the range, and the ratio of the median to the
floor's median in the same run. Standard library only.
"""
import json, os, sys

work = sys.argv[1]


def rows(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {o["name"]: o for o in map(json.loads, f) if o}


info = json.load(open(os.path.join(work, "info.json")))
print(info["machine"])
print(f"command: {info['command']}")
print(f"load average (1 min): {info['load_before']} before, {info['load_after']} after")
for label, path in info["binaries"].items():
    print(f"binary {label}: {path} ({info['linkage'][label]})")

startup = rows("startup.jsonl")
if startup:
    floor = startup["socat hello"]["median"]
    print()
    print(f"One-shot commands, {startup['socat hello']['runs']} runs each, in turns (milliseconds):")
    print(f"{'command':<34} {'median':>8} {'q1–q3':>15} {'min–max':>15}  ratio to socat hello")
    for name, o in startup.items():
        ratio = o["median"] / floor
        print(f"{name:<34} {o['median']*1e3:8.2f} {o['q1']*1e3:7.2f}–{o['q3']*1e3:<7.2f} "
              f"{o['min']*1e3:7.2f}–{o['max']*1e3:<7.2f}  {ratio:.2f}×")

transfers = rows("transfers.jsonl")
if transfers:
    openssl = transfers["openssl dgst -sha256"]["median"]
    dd = transfers["dd conv=fsync"]["median"]
    limit = max(openssl, dd)
    print()
    print(f"Transfers of {info['size_mib']} MiB, {transfers['openssl dgst -sha256']['runs']} runs each, in turns (seconds):")
    print(f"{'operation':<34} {'median':>7} {'min–max':>13}  ratio")
    for name, o in transfers.items():
        if "get (stdout)" in name:
            ratio = f"{o['median'] / openssl:.2f}× openssl"
        elif name in ("openssl dgst -sha256", "dd conv=fsync"):
            ratio = ""
        else:
            ratio = f"{o['median'] / limit:.2f}× max(openssl, dd)"
        print(f"{name:<34} {o['median']:7.3f} {o['min']:6.3f}–{o['max']:<6.3f}  {ratio}")
