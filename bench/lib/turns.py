#!/usr/bin/python3
"""Lets two warm training processes take turns, one iteration each, so that the shared machine's drift falls on both.

Usage: bench/lib/turns.py ITERATIONS NAME GATE PROGRESS HEADER PID [NAME GATE PROGRESS HEADER PID ...]

Each process waits for a line on its GATE (a named pipe) before an iteration and adds a line to its PROGRESS file after
it (HEADER: lines that file starts with). The first process goes first in odd turns, the last in even ones. Exits 1
with a line naming the process that ended early, or that made no progress for 15 minutes.
"""
import errno
import os
import sys
import time


def lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def open_gate(name, gate, pid):
    # a pipe's writer cannot open it before its reader does; the reader opens it at its first iteration
    while True:
        try:
            return os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
        if not alive(pid):
            sys.exit(f"turns: {name} ended before its first iteration")
        time.sleep(0.05)


def main():
    n = int(sys.argv[1])
    sides = [sys.argv[i:i + 5] for i in range(2, len(sys.argv), 5)]
    fds = {}
    for turn in range(n):
        for name, gate, progress, header, pid in (sides if turn % 2 == 0 else sides[::-1]):
            if name not in fds:
                fds[name] = open_gate(name, gate, int(pid))
            os.write(fds[name], b"go\n")
            deadline = time.time() + 900
            while lines(progress) - int(header) < turn + 1:
                if not alive(int(pid)):
                    sys.exit(f"turns: {name} ended in its iteration {turn + 1}")
                if time.time() > deadline:
                    sys.exit(f"turns: {name} made no progress in 15 minutes (iteration {turn + 1})")
                time.sleep(0.01)
    for fd in fds.values():
        os.close(fd)


if __name__ == "__main__":
    main()
