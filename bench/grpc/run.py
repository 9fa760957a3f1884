"""Runs bench/grpc: see run.sh. Usage: run.py RELEASE_DIR REPEATS SECONDS CONCURRENCY."""

import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

release, repeats, seconds, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
load = os.path.join(release, "examples", "grpc_load")
levee = os.path.join(release, "levee")
tick = os.sysconf("SC_CLK_TCK")
started = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"run.py: {what} did not listen on {port}")


def start(cmd, **kw):
    p = subprocess.Popen(cmd, stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=subprocess.DEVNULL, **kw)
    started.append(p)
    return p


def cpu_ticks(pid):
    """utime + stime of pid and its children (nginx's workers)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid = int(fields[1])
        if int(entry) == pid or ppid == pid:
            total += int(fields[11]) + int(fields[12])
    return total


work = tempfile.mkdtemp(prefix="levee-grpc-bench-")
try:
    up_port = free_port()
    start([load, "serve", str(up_port)])
    wait_port(up_port, "the tonic server")
    legs = {"direct": (up_port, None)}

    lv_port = free_port()
    lv = start([levee, "serve", "--listen", f"127.0.0.1:{lv_port}", "--upstream", f"h2c://127.0.0.1:{up_port}",
                "--admin", "127.0.0.1:0", "--data-dir", os.path.join(work, "data")],
               stdout=open(os.path.join(work, "levee.log"), "w"))
    wait_port(lv_port, "levee")
    legs["levee"] = (lv_port, lv.pid)

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    nginx_version = ""
    if nginx:
        ng_port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes auto;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log {work}/nginx-access.log;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
  upstream grpcup {{ server 127.0.0.1:{up_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{ng_port} http2;
    location / {{ grpc_pass grpc://grpcup; }}
  }}
}}
""")
        ng = start([nginx, "-c", conf, "-p", work])
        wait_port(ng_port, "nginx")
        legs["nginx"] = (ng_port, ng.pid)
        nginx_version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()

    results = {name: [] for name in legs}
    kinds = {name: set() for name in legs}
    for r in range(repeats):
        for name, (port, pid) in legs.items():
            before = cpu_ticks(pid) if pid else 0
            out = subprocess.run([load, "run", f"127.0.0.1:{port}", str(concurrency), str(seconds)],
                                 capture_output=True, text=True, timeout=seconds + 60)
            after = cpu_ticks(pid) if pid else 0
            m = json.loads(out.stdout.strip().splitlines()[-1])
            for line in out.stderr.splitlines():
                if line.startswith("grpc_load: error: "):
                    # The kind, without the per-call request id.
                    kinds[name].add(re.sub(r" \(request id [^)]*\)", "", line[len("grpc_load: error: "):])[:160])
            # CPU over the warm-up too: per call of every call made (~calls × (s+1)/s).
            calls_all = m["calls"] * (seconds + 1) / seconds
            m["cpu_us_per_call"] = (after - before) / tick * 1e6 / calls_all if pid and calls_all else None
            results[name].append(m)
            print(f"run.py: round {r + 1} {name}: {m}", file=sys.stderr)

    def med(name, key):
        vals = [m[key] for m in results[name] if m.get(key) is not None]
        return statistics.median(vals) if vals else None

    direct_rps = med("direct", "rps")
    rows = []
    for name in legs:
        rps, p50, p99, cpu = med(name, "rps"), med(name, "p50_us"), med(name, "p99_us"), med(name, "cpu_us_per_call")
        errors = sum(m["errors"] for m in results[name])
        rows.append(f"| {name} | {rps:,.0f} | {rps / direct_rps:.0%} | {p50 / 1000:.2f} | {p99 / 1000:.2f} | "
                    f"{'-' if cpu is None else f'{cpu:.0f}'} | {errors} |")
    load_avg = open("/proc/loadavg").read().split()[:3]
    section = f"""## gRPC (issue 20)

`bench/grpc/run.sh {repeats} {seconds} {concurrency}` — {datetime.date.today().isoformat()}, {os.cpu_count()} CPUs,
`{os.uname().release}`, load average before the run {' '.join(load_avg)}; {nginx_version or 'nginx not installed'}.
Unary `grpc.health.v1.Health/Check` calls from {concurrency} closed-loop tonic tasks over 4 HTTP/2
connections, {seconds} s per leg after 1 s of warm-up, legs interleaved, {repeats} rounds, medians.
Upstream: a tonic server with the standard health service. Levee runs with defaults
(`levee serve --upstream h2c://…`: admission and access log on); nginx with `grpc_pass`,
`keepalive 64`, access log on, `worker_processes auto`. CPU is the proxy's user + system
time per call (µs), from /proc. Generator, upstream and proxy share the machine's CPUs,
so the generator is part of what limits every leg: compare the legs with one another,
not with other machines.

| leg | calls/s | of direct | p50 ms | p99 ms | proxy CPU µs/call | errors |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
""" + "\n".join(rows) + "\n" + "".join(
        f"\nErrors through {name}: " + "; ".join(f"`{k}`" for k in sorted(kinds[name])) + ".\n"
        for name in legs if kinds[name])
    os.makedirs("target/bench/grpc", exist_ok=True)
    with open("target/bench/grpc/grpc.md", "w") as f:
        f.write(section)
    docs = "docs/BENCHMARKS.md"
    text = open(docs).read()
    pattern = re.compile(r"## gRPC \(issue 20\)\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(lambda _: section.rstrip("\n") + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    open(docs, "w").write(text)
    print(section)
finally:
    for p in started:
        p.send_signal(signal.SIGTERM)
    for p in started:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(work, ignore_errors=True)
