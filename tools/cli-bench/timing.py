#!/usr/bin/env python3
"""Times commands, each run many times, the kinds taking turns.

  timing.py RUNS SPEC.json

SPEC.json is a list of {"name", "argv", "stdin"?, "env"?, "before"?}: each
command's argument vector (a "{i}" in an argument becomes the run's number,
from 0), the file its standard input comes from, extra environment
variables, and a command run untimed before each timed run (for `get -o`,
removing the previous output so that every run creates its file). Round r
runs every command once, in the listed order; a command that fails ends
the measurement with its output. Prints one JSON object a line per
command: the name, the wall-clock seconds of every run (from before
posix_spawn to after waitpid), and their median, quartiles, minimum and
maximum. Standard output and error of the timed commands go to /dev/null.
Standard library only; nothing here asserts a time.
"""
import json, os, statistics, sys, time


def spawn(argv, stdin, env):
    """Runs argv to completion and returns (status, seconds)."""
    with open(stdin or os.devnull, "rb") as source, open(os.devnull, "wb") as sink:
        actions = [
            (os.POSIX_SPAWN_DUP2, source.fileno(), 0),
            (os.POSIX_SPAWN_DUP2, sink.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, sink.fileno(), 2),
        ]
        start = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, env, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), time.perf_counter() - start


def quartiles(values):
    ordered = sorted(values)
    if len(ordered) < 4:
        return ordered[0], ordered[-1]
    q = statistics.quantiles(ordered, n=4)
    return q[0], q[2]


def main():
    runs = int(sys.argv[1])
    with open(sys.argv[2]) as f:
        spec = json.load(f)
    times = {c["name"]: [] for c in spec}
    for i in range(runs):
        for command in spec:
            env = dict(os.environ, **command.get("env", {}))
            if command.get("before"):
                status, _ = spawn([a.replace("{i}", str(i)) for a in command["before"]], None, env)
                if status != 0:
                    sys.exit(f"timing.py: {command['name']}: the command before it failed ({status})")
            argv = [a.replace("{i}", str(i)) for a in command["argv"]]
            status, seconds = spawn(argv, command.get("stdin"), env)
            if status != 0:
                sys.exit(f"timing.py: {command['name']}: {' '.join(argv)} exited with {status}")
            times[command["name"]].append(seconds)
    for name, values in times.items():
        low, high = quartiles(values)
        print(json.dumps({
            "name": name, "runs": len(values), "median": statistics.median(values),
            "q1": low, "q3": high, "min": min(values), "max": max(values), "seconds": values,
        }))


if __name__ == "__main__":
    main()
