#!/usr/bin/env python3
"""What /metrics costs a watch-mode vigild with N monitored instances.

Serves N vigild targets (a recorded vigild /metrics whose gauges move,
counters advance and histograms fill), runs vigild watching them with the
default pack, and after a warm-up measures /metrics: body size, series, the
vigil_signal_* series, wall time per GET and vigild's CPU per GET (its CPU
during back-to-back GETs, less its idle-rate CPU over the same time).

  scripts/metrics-scale.py [--instances 1,200] [--warmup 60] [--gets 20]
  (needs build/daemon/vigild and a body: the /metrics of a vigild on the
   built-in model after a few completions, in /tmp/vigil_body.txt)
"""
import argparse, http.server, os, random, re, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Targets(http.server.ThreadingHTTPServer):
    daemon_threads = True


class Body:
    """A recorded vigild /metrics that moves like a loaded engine: KV blocks
    and memory climb, KV usage wanders, and every histogram gets a few
    observations in a random bucket, so the detectors the rules read
    (trends, correlation) have values. Regenerated at most twice a second
    and shared by all targets, to keep this script's CPU small."""

    BUCKET = re.compile(r'^([A-Za-z_:][\w:]*)_bucket\{(.*?)le="([^"]+)"(.*)\} (\S+)$')

    def __init__(self, text):
        self.lines = text.splitlines()
        self.n = 0
        self.added = {}  # (family, labels) -> observations added per bucket index
        self.text, self.at = text, 0.0
        self.lock = threading.Lock()

    def get(self):
        with self.lock:
            now = time.monotonic()
            if now - self.at >= 0.5:
                self.n += 1
                self.text, self.at = self.render(), now
            return self.text

    def render(self):
        n, out, hist = self.n, [], {}
        for l in self.lines:
            m = self.BUCKET.match(l)
            if m:
                hist.setdefault((m.group(1), m.group(2) + m.group(4)), []).append(m.group(3))
        pick = {k: random.randrange(len(v)) for k, v in hist.items()}
        idx = {}
        for l in self.lines:
            m = self.BUCKET.match(l)
            if m:
                key = (m.group(1), m.group(2) + m.group(4))
                i = idx.get(key, 0)
                idx[key] = i + 1
                add = self.added.setdefault(key, [0] * len(hist[key]))
                if i >= pick[key]:
                    add[i] += 5
                out.append(l.rsplit(" ", 1)[0] + " %d" % (float(m.group(5)) + add[i]))
                continue
            name = l.split("{", 1)[0].split(" ", 1)[0]
            fam = (name[:-6] if name.endswith("_count") else name[:-4] if name.endswith("_sum") else None)
            if fam and any(k[0] == fam for k in self.added):
                tot = sum(v[-1] for k, v in self.added.items() if k[0] == fam)
                v = float(l.rsplit(" ", 1)[1])
                out.append(l.rsplit(" ", 1)[0] + " %g" % (v + (tot if name.endswith("_count") else tot * 0.05)))
            elif name == "vigil_kv_blocks_used":
                out.append(l.rsplit(" ", 1)[0] + " %d" % (2 * n + random.randint(0, 3)))
            elif name == "vigil_memory_used_bytes":
                out.append(l.rsplit(" ", 1)[0] + " %d" % (500e6 + 65536 * n + random.randint(0, 100000)))
            elif name == "vllm:kv_cache_usage_perc":
                out.append(l.rsplit(" ", 1)[0] + " %.3f" % random.uniform(0.1, 0.9))
            elif name.endswith("_total") and not l.startswith("#"):
                out.append(l.rsplit(" ", 1)[0] + " %d" % (float(l.rsplit(" ", 1)[1]) + 7 * n))
            else:
                out.append(l)
        return "\n".join(out) + "\n"


def serve(body, port):
    src = Body(body)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            b = src.get().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def log_message(self, *a):
            pass

    srv = Targets(("127.0.0.1", port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def cpu_seconds(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def measure(n, body, warmup, gets):
    tport, vport = free_port(), free_port()
    srv = serve(body, tport)
    tmp = tempfile.mkdtemp(prefix="vigil-metrics-scale-")
    cfg = os.path.join(tmp, "vigil.yaml")
    with open(cfg, "w") as f:
        f.write("server:\n  host: 127.0.0.1\n  port: %d\n  state_dir: %s\n" % (vport, tmp))
        f.write("monitor:\n  interval: 1s\nrules:\n  files: [%s/etc/rules/pathologies.yaml, %s/etc/rules/classic.yaml, %s/etc/rules/watch.yaml]\n" % (ROOT, ROOT, ROOT))
        f.write("targets:\n")
        for i in range(n):
            f.write("  - {name: t%d, url: \"http://127.0.0.1:%d/m/%d\", engine: vigil, health_path: \"\"}\n" % (i, tport, i))
    vigild = subprocess.Popen([os.path.join(ROOT, "build/daemon/vigild"), "--config", cfg],
                              stdout=open(os.path.join(tmp, "vigild.log"), "w"), stderr=subprocess.STDOUT)
    try:
        url = "http://127.0.0.1:%d/metrics" % vport
        for _ in range(300):
            try:
                get("http://127.0.0.1:%d/ready" % vport)
                break
            except Exception:
                time.sleep(0.1)
        time.sleep(warmup)  # the detectors' windows fill: every vigil_signal_* present
        c0, t0 = cpu_seconds(vigild.pid), time.monotonic()
        time.sleep(10)
        idle = (cpu_seconds(vigild.pid) - c0) / (time.monotonic() - t0)
        c0, t0 = cpu_seconds(vigild.pid), time.monotonic()
        sizes = []
        for _ in range(gets):
            b = get(url)
            sizes.append(len(b))
        wall = time.monotonic() - t0
        cpu = cpu_seconds(vigild.pid) - c0 - idle * wall
        text = b.decode()
        lines = [l for l in text.splitlines() if l and not l.startswith("#")]
        sig = [l for l in lines if l.startswith("vigil_signal_")]
        print("%4d instances: /metrics %7.1f KB, %6d series (%5d vigil_signal_*), %6.1f ms wall and %6.1f ms of vigild CPU per GET; "
              "vigild idle %.1f%% of a core" % (n, sizes[-1] / 1024, len(lines), len(sig), 1000 * wall / gets,
                                               1000 * max(cpu, 0) / gets, 100 * idle), flush=True)
        fams = {}
        for l in lines:
            name = l.split("{", 1)[0].split(" ", 1)[0]
            fams[name] = fams.get(name, 0) + 1
        top = sorted(fams.items(), key=lambda kv: -kv[1])[:6]
        print("      largest families: " + ", ".join("%s %d" % kv for kv in top), flush=True)
    finally:
        vigild.send_signal(signal.SIGTERM)
        vigild.wait(timeout=30)
        srv.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", default="1,200")
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--gets", type=int, default=20)
    ap.add_argument("--body", default="/tmp/vigil_body.txt")
    a = ap.parse_args()
    body = open(a.body).read()
    for n in [int(x) for x in a.instances.split(",")]:
        measure(n, body, a.warmup, a.gets)


if __name__ == "__main__":
    main()
