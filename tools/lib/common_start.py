"""Worker processes that start together: the parallel rows of the Python benchmarks.

A benchmark script runs itself as N workers (`SCRIPT worker ARGS...`); each
sets up its connection, says `ready`, waits for a common start time on its
standard input, repeats one request until the time is up, and prints how many
it made. Standard library only.
"""
import subprocess, sys, time


def serve_worker(one, close=None):
    """The worker side: `one()` makes one request; `close()`, if given, runs at the end."""
    print("ready", flush=True)
    start_at, seconds = map(float, sys.stdin.readline().split())
    while time.monotonic() < start_at:
        time.sleep(0.0005)
    end, count = start_at + seconds, 0
    while time.monotonic() < end:
        one()
        count += 1
    if close:
        close()
    print(count, flush=True)


def run_workers(script, worker_args, conns, seconds, what):
    """Starts `conns` copies of `script worker *worker_args`, lets them go together, returns their counts."""
    procs = [subprocess.Popen([sys.executable, script, "worker", *worker_args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(conns)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise SystemExit(f"a {what} worker did not start")
        start_at = time.monotonic() + 0.2
        for p in procs:
            p.stdin.write(f"{start_at} {seconds}\n")
            p.stdin.flush()
        counts = []
        for p in procs:
            line = p.stdout.readline()
            if not line.strip().isdigit():
                raise SystemExit(f"a {what} worker failed")
            counts.append(int(line))
        return counts
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
