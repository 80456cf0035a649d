#!/usr/bin/env python3
"""A day in an hour: vigild under mixed open-loop load, disconnecting clients,
SIGHUP reloads, a webhook that fails a share of deliveries and a capture now
and then. Samples the process and its /metrics, and judges the run on the
slopes after warm-up. Run through scripts/soak.sh (docs/soak.md)."""

import argparse
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def parse_duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 90s, 10m, 1h)")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * scale


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """A receiver that answers 500 to a seeded share of POSTs and records the
    Idempotency-Key of every notification it took."""

    def __init__(self, fail_share, seed):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.fail_share = fail_share
        self.taken = {}  # Idempotency-Key -> times taken (2xx answered)
        self.failed = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("Idempotency-Key", "")
                with outer.lock:
                    fail = outer.rng.random() < outer.fail_share
                    if fail:
                        outer.failed += 1
                    else:
                        outer.taken[key] = outer.taken.get(key, 0) + 1
                try:
                    json.loads(body)
                except ValueError:
                    fail = True
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stats(self):
        with self.lock:
            return len(self.taken), sum(self.taken.values()), self.failed


METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def scrape(url):
    out = {}
    t0 = time.time()
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    scrape.last_ms = (time.time() - t0) * 1000  # the HTTP exchange alone, not the parsing below
    if True:
        for line in text.splitlines():
            m = METRIC_RE.match(line)
            if m:
                key = m.group(1) + (m.group(2) or "")
                try:
                    out[key] = float(m.group(3))
                except ValueError:
                    pass
    return out


def metric_sum(metrics, name, **labels):
    total = 0.0
    for key, value in metrics.items():
        if key == name or key.startswith(name + "{"):
            if all(f'{k}="{v}"' in key for k, v in labels.items()):
                total += value
    return total


def proc_sample(pid):
    status = open(f"/proc/{pid}/status").read()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss_kb * 1024, fds, threads


def slope(points):
    """Least-squares slope of (t, v) points, per second."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / den if den else 0.0


def write_config(work, port, webhook_port, repo, rules_dir):
    token = os.path.join(work, "admin_token")
    with open(token, "w") as f:
        f.write("soak-admin-token\n")
    # A rule that fires while load runs and resolves in the pauses: every
    # load cycle makes a firing and a resolved notification.
    with open(os.path.join(rules_dir, "soak.yaml"), "w") as f:
        f.write("""groups:
  - name: soak
    rules:
      - alert: SoakLoadOn
        expr: requests_running > 0
        for: 2s
        labels: {severity: warning}
        annotations: {summary: "soak load is on ({{ $value }} running)"}
""")
    for name in ("classic.yaml", "pathologies.yaml", "inhibit.yaml"):
        shutil.copy(os.path.join(repo, "etc", "rules", name), rules_dir)
    config = os.path.join(work, "vigil.yaml")
    with open(config, "w") as f:
        f.write(f"""server:
  host: 127.0.0.1
  port: {port}
  threads: 64
  admin_token_file: {token}
  state_dir: {work}/state
engine:
  model: builtin:tiny-llama
  kv_cache_memory: 64MiB
  max_num_seqs: 32
  max_num_batched_tokens: 1024
  enable_prefix_caching: true
rules:
  files: [{rules_dir}/*.yaml]
alerts:
  group_by: [alertname]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 2m
  retry_base: 200ms
  retry_cap: 5s
  default_receiver: hook
  receivers:
    - {{name: hook, type: webhook, url: "http://127.0.0.1:{webhook_port}/hook", timeout: 5s}}
capture:
  max_duration: 2s
  cooldown: {{rule: 1m, global: 30s}}
  retention: {{max_count: 5}}
logging:
  level: warn
""")
    return config


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=parse_duration, default=parse_duration("10m"))
    ap.add_argument("--warmup", type=parse_duration, help="default: a fifth of the duration, at least 60s")
    ap.add_argument("--vigild", default="build/daemon/vigild")
    ap.add_argument("--vigilctl", default="build/cli/vigilctl")
    ap.add_argument("--rate", type=float, default=3.0, help="requests/s of the main load (open loop)")
    ap.add_argument("--reload-every", type=parse_duration, default=parse_duration("3m"))
    ap.add_argument("--capture-every", type=parse_duration, default=parse_duration("7m"))
    ap.add_argument("--fail-share", type=float, default=0.2, help="share of webhook POSTs answered 500")
    ap.add_argument("--sample-every", type=parse_duration, default=parse_duration("5s"))
    ap.add_argument("--crowd-every", type=int, default=5,
                    help="every Nth load cycle adds a crowd: 1000 concurrent streaming clients (0: never)")
    ap.add_argument("--crowd-clients", type=int, default=1000)
    ap.add_argument("--out", help="directory for samples.csv and summary.json (default: a temp dir)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else max(60.0, args.duration / 5)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = tempfile.mkdtemp(prefix="vigil-soak-")
    out = args.out or work
    os.makedirs(out, exist_ok=True)
    rules_dir = os.path.join(work, "rules")
    os.makedirs(rules_dir)

    hook = Webhook(args.fail_share, args.seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = write_config(work, port, hook.port, repo, rules_dir)
    log = open(os.path.join(work, "vigild.log"), "w")
    daemon = subprocess.Popen([args.vigild, "--config", config], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            break
        except Exception:
            if daemon.poll() is not None or time.time() > deadline:
                sys.exit(f"soak: vigild did not come up; see {work}/vigild.log")
            time.sleep(0.2)
    print(f"soak: vigild pid {daemon.pid} on {url}, work dir {work}, {args.duration:.0f}s "
          f"(warm-up {warmup:.0f}s)", flush=True)

    stop = threading.Event()
    loads = []
    crowds = []  # the crowd phases' results
    crowd_on = threading.Event()
    load_lock = threading.Lock()

    def load_loop():
        # 45 s of load, 15 s of quiet, so SoakLoadOn fires and resolves every
        # minute. Two mixes at once: chat-like short prompts with hang-ups,
        # and long prompts on a shared prefix (prefix caching, chunked prefill).
        cycle = 0
        while not stop.is_set():
            cycle += 1
            mixes = [
                ["--rate", str(args.rate), "--prompt-tokens", "48", "--prompt-tokens-stddev", "24",
                 "--max-tokens", "24", "--disconnect-fraction", "0.15", "--disconnect-after", "3"],
                ["--rate", str(args.rate / 3), "--prompt-tokens", "384", "--prompt-tokens-stddev", "96",
                 "--shared-prefix-tokens", "256", "--max-tokens", "16"],
            ]
            procs = []
            for i, mix in enumerate(mixes):
                cmd = [args.vigilctl, "load", "--url", url, "--duration", "45s", "--requests", "0",
                       "--seed", str(args.seed * 1000 + cycle * 10 + i), "--json"] + mix
                procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
            # A crowd on top, closed loop: every one of its clients must be
            # served (queued in the engine, not refused) while the monitor's
            # endpoints keep answering.
            crowd = None
            if args.crowd_every > 0 and cycle % args.crowd_every == 0:
                crowd_on.set()
                crowd = subprocess.Popen(
                    [args.vigilctl, "load", "--url", url, "--concurrency", str(args.crowd_clients),
                     "--requests", str(2 * args.crowd_clients), "--prompt-tokens", "16", "--max-tokens", "8",
                     "--seed", str(args.seed * 1000 + cycle * 10 + 9), "--json"],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if crowd is not None:
                text, _ = crowd.communicate()
                crowd_on.clear()
                try:
                    with load_lock:
                        crowds.append(json.loads(text))
                except ValueError:
                    with load_lock:
                        crowds.append({"requests": {"ok": 0, "errors": {"no_report": 1}}})
            for p in procs:
                text, _ = p.communicate()
                try:
                    with load_lock:
                        loads.append(json.loads(text))
                except ValueError:
                    pass
            stop.wait(15)

    events = {"reloads": 0, "reload_failures": 0, "captures_asked": 0, "captures_accepted": 0}

    def chores():
        next_reload = time.time() + args.reload_every
        next_capture = time.time() + args.capture_every / 2
        while not stop.wait(1):
            now = time.time()
            if now >= next_reload:
                daemon.send_signal(signal.SIGHUP)
                events["reloads"] += 1
                next_reload = now + args.reload_every
            if now >= next_capture:
                req = urllib.request.Request(url + "/api/v1/captures", data=b'{"duration":"2s","reason":"soak"}',
                                             headers={"Authorization": "Bearer soak-admin-token",
                                                      "Content-Type": "application/json"}, method="POST")
                events["captures_asked"] += 1
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        events["captures_accepted"] += r.status < 300
                except Exception:
                    pass
                next_capture = now + args.capture_every

    threads = [threading.Thread(target=load_loop), threading.Thread(target=chores)]
    for t in threads:
        t.start()

    samples = []
    crowd_scrape_ms = []  # /metrics answer times while a crowd runs
    csv = open(os.path.join(out, "samples.csv"), "w")
    csv.write("t,rss_bytes,fds,threads,kv_blocks_used,kv_blocks_orphaned,outbox_pending,notifications_dead\n")
    start = time.time()
    next_sample = start
    try:
        while time.time() - start < args.duration:
            if daemon.poll() is not None:
                print(f"soak: vigild exited with {daemon.returncode}; see {work}/vigild.log", flush=True)
                break
            try:
                crowd_now = crowd_on.is_set()
                m = scrape(url)
                if crowd_now:
                    crowd_scrape_ms.append(scrape.last_ms)
                rss, fds, nthreads = proc_sample(daemon.pid)
            except Exception as e:  # a slow scrape under load is a sample lost, not a failure
                print(f"soak: sample failed: {e}", flush=True)
            else:
                row = (time.time() - start, rss, fds, nthreads, metric_sum(m, "vigil_kv_blocks_used"),
                       metric_sum(m, "vigil_kv_blocks_orphaned"), metric_sum(m, "vigil_outbox_pending"),
                       metric_sum(m, "vigil_notifications_dead_total"))
                samples.append(row)
                csv.write(",".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + "\n")
                csv.flush()
            next_sample += args.sample_every
            time.sleep(max(0.0, next_sample - time.time()))
    finally:
        stop.set()
        for t in threads:
            t.join()

    alive = daemon.poll() is None
    # Quiesce: the load has stopped; let SoakLoadOn resolve and the outbox
    # drain (retries back off up to retry_cap), then count.
    drained = False
    final = {}
    quiet_deadline = time.time() + 120
    while alive and time.time() < quiet_deadline:
        try:
            final = scrape(url)
        except Exception:
            time.sleep(1)
            continue
        if (metric_sum(final, "vigil_outbox_pending") == 0 and metric_sum(final, "vigil_kv_blocks_used") == 0
                and metric_sum(final, "vigil_rule_state", alert="SoakLoadOn") == 0):
            time.sleep(3)  # one more resolve may be in its group_interval
            final = scrape(url)
            if metric_sum(final, "vigil_outbox_pending") == 0:
                drained = True
                break
        time.sleep(1)
    unique_taken, posts_taken, posts_failed = hook.stats()
    idle_end = None
    if alive:
        time.sleep(6)  # past the server's keep-alive timeout: the clients' sockets are closed
        idle_end = proc_sample(daemon.pid)
    if alive:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
    log.close()

    after = [s for s in samples if s[0] >= warmup]
    span = (after[-1][0] - after[0][0]) if len(after) > 1 else 0.0
    rss_pts = [(s[0], s[1]) for s in after]
    rss_mean = sum(v for _, v in rss_pts) / len(rss_pts) if rss_pts else 0.0
    rss_growth = slope(rss_pts) * span / rss_mean if rss_mean else 0.0
    col = lambda i: [s[i] for s in after]
    # fds and threads move with the connections of the moment; compare the
    # lowest of each minute (every load cycle has its quiet seconds, when
    # the clients' connections are closed).
    by_minute = {}
    for s in after:
        m = int(s[0] // 60)
        by_minute[m] = min(by_minute.get(m, (1e18, 1e18)), (s[2], s[3]))
    quiet = [(0, 0, fds, thr) for fds, thr in by_minute.values()][1:-1]  # whole minutes only
    sent = metric_sum(final, "vigil_notifications_total", receiver="hook", result="success")
    dead = metric_sum(final, "vigil_notifications_dead_total")
    with load_lock:
        requests_ok = sum(l.get("requests", {}).get("ok", 0) for l in loads)
        errs = [l.get("requests", {}).get("errors", 0) for l in loads]
        requests_err = sum(sum(e.values()) if isinstance(e, dict) else e for e in errs)
        requests_hung_up = sum(l.get("requests", {}).get("disconnected", 0) for l in loads)
        crowd_ok = sum(c.get("requests", {}).get("ok", 0) for c in crowds)
        crowd_err = sum(sum(c.get("requests", {}).get("errors", {}).values()) for c in crowds)
    crowd_scrape_ms.sort()
    crowd_p99 = crowd_scrape_ms[min(len(crowd_scrape_ms) - 1, len(crowd_scrape_ms) * 99 // 100)] \
        if crowd_scrape_ms else None
    summary = {
        "duration_s": round(time.time() - start, 1),
        "warmup_s": warmup,
        "samples_after_warmup": len(after),
        "rss_mb_first_last": [round(after[0][1] / 2**20, 1), round(after[-1][1] / 2**20, 1)] if after else None,
        "rss_growth_after_warmup_pct": round(100 * rss_growth, 3),
        "rss_slope_kb_per_min": round(slope(rss_pts) * 60 / 1024, 2),
        "fds_min_max": [min(col(2)), max(col(2))] if after else None,
        "fds_per_minute_low_min_max": [min(q[2] for q in quiet), max(q[2] for q in quiet)] if quiet else None,
        "fds_per_minute_low_slope_per_h": round(slope(list(enumerate(q[2] for q in quiet))) * 60, 2),
        "fds_threads_idle_start_end": [samples[0][2], samples[0][3], idle_end[1], idle_end[2]]
        if samples and idle_end else None,
        "fds_slope_per_h": round(slope([(s[0], s[2]) for s in after]) * 3600, 2),
        "threads_min_max": [min(col(3)), max(col(3))] if after else None,
        "threads_per_minute_low_min_max": [min(q[3] for q in quiet), max(q[3] for q in quiet)] if quiet else None,
        "threads_slope_per_h": round(slope([(s[0], s[3]) for s in after]) * 3600, 2),
        "kv_blocks_used_max": max(col(4)) if after else None,
        "kv_blocks_orphaned_max": max([s[5] for s in samples]) if samples else None,
        "outbox_pending_max": max([s[6] for s in samples]) if samples else None,
        "load_cycles": len(loads) // 2,
        "requests_completed": requests_ok,
        "requests_errors": requests_err,
        "requests_hung_up": requests_hung_up,
        "crowd_phases": len(crowds),
        "crowd_requests_ok_errors": [crowd_ok, crowd_err],
        "crowd_metrics_scrape_ms_p99_max": [round(crowd_p99, 1), round(crowd_scrape_ms[-1], 1)]
        if crowd_scrape_ms else None,
        "reloads": events["reloads"],
        "captures_asked_accepted": [events["captures_asked"], events["captures_accepted"]],
        "webhook_posts_failed_on_purpose": posts_failed,
        "webhook_posts_taken": posts_taken,
        "notifications_delivered_unique": unique_taken,
        "vigild_notifications_success": sent,
        "vigild_notifications_dead": dead,
        "outbox_drained": drained,
        "vigild_alive_to_end": alive,
        "work_dir": work,
    }
    checks = {
        "vigild ran to the end": alive,
        "RSS growth after warm-up < 1%": rss_growth < 0.01,  # shrinking is fine
        # Busy minutes keep sockets open; what must hold is that every one
        # is closed again once the load stops.
        "fds back to their idle count at the end": bool(samples) and idle_end is not None
        and abs(idle_end[1] - samples[0][2]) <= 2,
        "threads back to their idle count at the end": bool(samples) and idle_end is not None
        and idle_end[2] == samples[0][3],
        "no orphaned KV blocks": bool(samples) and max(s[5] for s in samples) == 0,
        "outbox drained, nothing dead": drained and dead == 0,
        "every notification delivered": drained and unique_taken == sent and sent > 0,
        "the webhook failed some on purpose": args.fail_share == 0 or posts_failed > 0,
        # The crowd phase (issue 28): every client served, none refused.
        "crowd phases: every request completed": args.crowd_every == 0 or (len(crowds) > 0 and crowd_err == 0
                                                                          and crowd_ok == len(crowds) * 2 * args.crowd_clients),
        "crowd phases: /metrics p99 < 50 ms": args.crowd_every == 0 or (crowd_p99 is not None and crowd_p99 < 50),
    }
    summary["checks"] = checks
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
