#!/usr/bin/python3
"""Writes the labelled synthetic series the detector tests read (deterministic).

Each series is one signal sampled once a second (the monitor's default
interval), shaped like what vigild watches: a steady latency, a daily-like
seasonal load, an idle-to-busy step, and faults injected into them (a spike,
a level shift, a slow drift, a stall). labels.txt: `file start end` per fault
(row indices, end inclusive); a file without a line is healthy throughout.
Run from this directory: python3 make_series.py
"""
import math, random

T0 = 1796083200  # 2026-12-01 00:00:00 UTC
N = 1500

def write(name, values):
    with open(name, "w") as f:
        f.write("timestamp,value\n")
        for i, v in enumerate(values):
            t = T0 + i
            f.write("%s,%.6g\n" % (__import__("time").strftime("%Y-%m-%d %H:%M:%S", __import__("time").gmtime(t)), v))

def noise(rng, sd):
    return rng.gauss(0, sd)

labels = []
rng = random.Random(26)

# Healthy: a steady p95 latency with noise; a seasonal load (period 120 s).
write("steady.csv", [0.20 + noise(rng, 0.01) for i in range(N)])
write("seasonal.csv", [50 + 20 * math.sin(2 * math.pi * i / 120) + noise(rng, 2) for i in range(N)])
# Idle to busy at 400 (a load step: at most one episode).
write("load_step.csv", [(0.0 if i < 400 else 800 + noise(rng, 40)) for i in range(N)])
labels.append(("load_step.csv", 400, 400))

# Faults.
spike = [0.20 + noise(rng, 0.01) for i in range(N)]
for s in (700, 1100):
    spike[s] = 0.60
    labels.append(("spike.csv", s, s))
write("spike.csv", spike)

shift = [(100 if i < 800 else 150) + noise(rng, 5) for i in range(N)]
labels.append(("level_shift.csv", 800, N - 1))
write("level_shift.csv", shift)

# A slow drift: +0.2 per second (0.2 % of the level), 40 % over the 200 s after it starts.
drift = [100 + (0 if i < 800 else 0.2 * (i - 800)) + noise(rng, 5) for i in range(N)]
labels.append(("drift.csv", 800, N - 1))
write("drift.csv", drift)

stall = [(0.0 if 900 <= i < 960 else 1000 + noise(rng, 50)) for i in range(N)]
labels.append(("stall.csv", 900, 959))
write("stall.csv", stall)

with open("labels.txt", "w") as f:
    f.write("# file start end (rows, 0-based, inclusive): where an anomaly is expected\n")
    for l in labels:
        f.write("%s %d %d\n" % l)
