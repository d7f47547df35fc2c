#!/usr/bin/env python3
"""Opens N silent connections to an almanac server, then times one real request beside them.

    python3 benches/idle_clients.py 127.0.0.1:8080 19000

Prints how many silent connections the server accepted, how long the real request took, and how
many of the silent ones the server had closed by then and 15 s later. (Raise `ulimit -n` of this
shell above N.)
"""
import socket
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
n = int(sys.argv[2])
idle = []
for i in range(n):
    s = socket.socket()
    if host.startswith("127."):
        s.bind((f"127.0.{1 + i % 200}.{2 + i % 250}", 0))  # spread over loopback addresses' ports
    s.setblocking(False)
    try:
        s.connect((host, int(port)))
    except BlockingIOError:
        pass
    idle.append(s)
time.sleep(2)


def closed_count():
    closed = 0
    for s in idle:
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


started = time.time()
real = socket.create_connection((host, int(port)), timeout=60)
real.sendall(b"GET /health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
try:
    answer = real.recv(64)
    took = time.time() - started
    status = answer.split(b"\r\n")[0].decode()
    print(f"real request: {status} after {took:.2f} s")
except socket.timeout:
    print("real request: no answer within 60 s")
print(f"silent connections closed by the server: {closed_count()} of {n} at once")
time.sleep(15)
print(f"silent connections closed by the server: {closed_count()} of {n} 15 s later")
