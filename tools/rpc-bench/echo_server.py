#!/usr/bin/env python3
"""The floor of the small-request benchmark: a trivial server on a Unix socket.

  echo_server.py SOCKET DIR MAX_SECONDS

A connection's first line names a file in DIR (a response Cairn gave, captured
byte for byte: the JSON line and, for a binary read, the raw bytes after it).
From then on every line read is answered with that file's bytes, nothing else:
no parsing, no store. So the same client, sending the same request lines, sees
responses of exactly Cairn's size from a server that does no work. Standard
library only; exits by itself after MAX_SECONDS (SIGALRM), and on SIGTERM.
"""
import os, signal, socket, sys, threading


def serve(conn, directory):
    with conn:
        reader = conn.makefile("rb", buffering=1 << 16)
        name = os.path.basename(reader.readline().strip().decode())
        with open(os.path.join(directory, name), "rb") as f:
            canned = f.read()
        try:
            while reader.readline():
                conn.sendall(canned)
        except OSError:  # the client went away mid-answer
            pass


def main(path, directory, max_seconds):
    signal.alarm(max_seconds)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, directory), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
