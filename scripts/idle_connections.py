#!/usr/bin/env python3
"""Idle connections against a running vigild: opens N (half never send a
request, half sent one and keep the connection), then reports vigild's RSS and
thread count before and after, and /metrics latency meanwhile (issue 28).
  scripts/idle_connections.py PORT VIGILD_PID [N=10000]"""
import os, resource, socket, sys, time, subprocess
port, pid = int(sys.argv[1]), int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1000, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
def status():
    s = open(f"/proc/{pid}/status").read()
    g = lambda k: int(s.split(k + ":")[1].split()[0])
    return g("VmRSS"), g("Threads")
import http.client
conn = None
def metrics_ms():
    global conn
    conn = conn or http.client.HTTPConnection("127.0.0.1", port)
    t = time.time(); conn.request("GET", "/metrics"); conn.getresponse().read()
    return (time.time() - t) * 1000
time.sleep(1)
rss0, thr0 = status()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if i % 2:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"}" not in got:
            got += s.recv(4096)
    socks.append(s)
time.sleep(2)
rss1, thr1 = status()
ms = sorted(metrics_ms() for _ in range(40))
print(f"{n} idle connections ({n//2} never sent a request, {n//2} kept alive after one): "
      f"RSS {rss0} -> {rss1} KiB (+{(rss1-rss0)*1024/n:.0f} bytes each), threads {thr0} -> {thr1}, "
      f"/metrics meanwhile p50 {ms[20]:.1f} ms max {ms[-1]:.1f} ms (one kept-alive connection)")
