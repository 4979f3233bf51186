#!/usr/bin/env python3
"""`make bench`: turnpike against coturn 4.6.1 and against the floor (a raw recvmmsg + GSO UDP
forwarder with no TURN logic), side by side, under the identical load from turnpike-loadgen.

Every measured run starts its server fresh on 127.0.0.1, lets the load generator set up its
allocations and warm up (the warm-up is discarded), measures, and stops the server by pid.
Servers alternate within each round (A B C, A B C, ...), medians are taken over the rounds, and a
same-server A-vs-A block shows the noise. Server CPU is utime+stime of the whole process from
/proc/PID/stat over the measured window, per *delivered* relayed packet.

Writes build/bench/results.json, tests/bench/results/{results.json,benchmarks.png} and the
generated block of BENCHMARKS.md (text outside the markers is kept).

Environment: BENCH_ROUNDS (default 5), BENCH_SCENARIOS (comma-separated ids, default all),
BENCH_DURATION (seconds per measured relay run, default per scenario).

Before/after comparisons of turnpike builds use the same harness:
  run.py --variant before=/path/to/old/turnpike --servers turnpike,before --scenarios flood-160
Where the time goes (perf, cpu-clock: works without hardware counters):
  run.py --profile many-flows [--profile-server coturn]   -> build/bench/profile-<id>-<server>.txt
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
SECRET = "bench-secret-0123456789"
REALM = "bench.local"
MIN_PORT, MAX_PORT = 49152, 65535  # the same relay range for every server (RFC 8656 §7.2 default)
THREADS = os.cpu_count() or 1
VARIANTS = {}  # name -> turnpike binary (--variant)

# The scenarios. `args` go to turnpike-loadgen; `servers` in the order they alternate.
RELAY3 = ["turnpike", "coturn-4.17", "coturn", "floor"]  # coturn: Debian's 4.6.1
SCENARIOS = [
    dict(id="flood-160", kind="relay", servers=RELAY3,
         title="One flow flat out, 160 B ChannelData (256 packets in flight)",
         args=["--allocations", "1", "--size", "160", "--window", "256"], warmup=1, duration=3),
    dict(id="flood-1200", kind="relay", servers=RELAY3,
         title="One flow flat out, 1200 B ChannelData (256 packets in flight)",
         args=["--allocations", "1", "--size", "1200", "--window", "256"], warmup=1, duration=3),
    dict(id="many-flows", kind="relay", servers=RELAY3,
         title="Many flows: 1,000 allocations x 50 packets/s x 200 B to 20 echo peers",
         args=["--allocations", "1000", "--peers", "20", "--size", "200", "--rate", "50"], warmup=2, duration=4),
    dict(id="latency", kind="relay", servers=RELAY3, rounds=3,
         title="Latency under light load: 200 allocations x 50 packets/s x 200 B (nothing saturated)",
         args=["--allocations", "200", "--peers", "20", "--size", "200", "--rate", "50"], warmup=1, duration=4),
    dict(id="alloc-10k", kind="alloc", servers=["turnpike", "coturn-4.17", "coturn"], rounds=3,
         title="10,000 allocations as fast as possible (Allocate 401 + Allocate + CreatePermission + "
               "ChannelBind), then held idle",
         args=["--mode", "alloc", "--allocations", "10000", "--concurrency", "64", "--hold", "1"],
         prewarm=["--mode", "alloc", "--allocations", "200", "--hold", "0", "--client-net", "2"]),
    dict(id="preauth", kind="unauth", servers=["turnpike", "coturn-4.17", "coturn"], rounds=2,
         title="10,000 sources each send one unauthenticated Allocate (state kept before authentication)",
         args=["--mode", "unauth", "--allocations", "10000", "--hold", "1"]),
    dict(id="ledger", kind="ledger", servers=[], rounds=3,
         title="Ledger: 10,000 session events per second from 2 worker threads into SQLite",
         args=["--rate", "10000", "--seconds", "8", "--workers", "2"]),
    dict(id="noise", kind="relay", servers=["turnpike", "turnpike'"], rounds=3,
         title="Noise: the many-flows load, turnpike against itself (A vs A)",
         args=["--allocations", "1000", "--peers", "20", "--size", "200", "--rate", "50"], warmup=2, duration=4),
]


def log(*a):
    print(*a, flush=True)


_COTURN_417 = []


def coturn_417():
    """coturn's newest release, built once into a cache outside the repository (build-coturn.sh)."""
    if not _COTURN_417:
        p = subprocess.run([os.path.join(HERE, "build-coturn.sh")], stdout=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError("build-coturn.sh failed (see its message above)")
        _COTURN_417.append(p.stdout.strip().splitlines()[-1])
    return _COTURN_417[0]


def raise_nofile():
    """10,000 allocations need 10,000+ sockets on each side; root may lift the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (65536, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(want, 1 << 20)), max(hard, want)))
            return
        except (ValueError, OSError):
            continue


def free_port():
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port < MIN_PORT:  # never inside the relay range
                return port
    raise RuntimeError("no free port")


def stun_binding_ok(port, timeout=0.2):
    txid = os.urandom(12)
    req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + txid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(req, ("127.0.0.1", port))
            data, _ = s.recvfrom(2048)
            return data[8:20] == txid
        except OSError:
            return False


class Server:
    """One server under test, started on a fresh port and stopped by pid."""

    def __init__(self, kind, build, workdir, tag, relay_ips=("127.0.0.1",), extra=(), ports=(MIN_PORT, MAX_PORT)):
        """`relay_ips`: the relay addresses; `ports`: the relay port range; `extra`: more lines
        for turnpike's configuration or arguments for coturn's command line."""
        min_port, max_port = ports
        self.kind = kind.rstrip("'")
        self.port = free_port()
        self.log_path = os.path.join(workdir, "%s.log" % tag)
        bin_dir = os.path.join(build, "bin")
        binary = os.path.join(bin_dir, "turnpike")
        if self.kind in VARIANTS:
            binary, self.kind = VARIANTS[self.kind], "turnpike"
        if self.kind == "turnpike":
            conf = os.path.join(workdir, "%s.conf" % tag)
            with open(conf, "w") as f:
                f.write("\n".join([
                    "listening-ip=127.0.0.1", "listening-port=%d" % self.port] +
                    ["relay-ip=" + ip for ip in relay_ips] + [
                    "min-port=%d" % min_port, "max-port=%d" % max_port, "relay-threads=%d" % THREADS,
                    "realm=" + REALM, "use-auth-secret", "static-auth-secret=" + SECRET,
                    "allow-loopback-peers",
                    # Measured beyond the default total-quota (10,000 concurrent allocations).
                    "total-quota=0",
                    # The ledger is on, as it is by default, in the work directory (default:
                    # /var/lib/turnpike, which a development machine need not have).
                    "ledger=" + os.path.join(workdir, "%s-ledger.db" % tag)] + list(extra)) + "\n")
            self.ledger = os.path.join(workdir, "%s-ledger.db" % tag)
            for suffix in ("", "-wal", "-shm"):  # a ledger of an earlier `make bench` would grow
                if os.path.exists(self.ledger + suffix):
                    os.unlink(self.ledger + suffix)
            argv = [binary, "-c", conf]
        elif self.kind in ("coturn", "coturn-4.17"):
            # coturn-jitsi.md §2.3, plus the same relay range and thread count, and its pid file and
            # SQLite database kept in the work directory instead of /var.
            binary = coturn_417() if self.kind == "coturn-4.17" else "turnserver"
            argv = [binary, "-n", "--listening-ip=127.0.0.1"] + ["--relay-ip=" + ip for ip in relay_ips] + [
                    "--listening-port=%d" % self.port, "--min-port=%d" % min_port, "--max-port=%d" % max_port,
                    "--relay-threads=%d" % THREADS, "--use-auth-secret", "--static-auth-secret=" + SECRET,
                    "--realm=" + REALM, "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls",
                    "--pidfile=" + os.path.join(workdir, "%s.pid" % tag),
                    "--db=" + os.path.join(workdir, "%s.sqlite" % tag), "--log-file=stdout"] + list(extra)
        elif self.kind == "floor":
            argv = [os.path.join(bin_dir, "turnpike-floor-relay"), "--listen", "127.0.0.1:%d" % self.port,
                    "--threads", str(THREADS), "--min-port", str(min_port), "--max-port", str(max_port)]
        else:
            raise ValueError(kind)
        self.argv = argv
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        deadline = time.time() + 15
        while not stun_binding_ok(self.port):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("%s did not start:\n%s" % (self.kind, open(self.log_path, errors="replace").read()[-3000:]))
            time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log_file.close()


def loadgen(build, server, args, timeout=180):
    argv = [os.path.join(build, "bin", "turnpike-loadgen"), "--server", "127.0.0.1:%d" % server.port,
            "--server-pid", str(server.pid), "--json"] + args
    if server.kind != "floor":
        argv += ["--secret", SECRET]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       preexec_fn=raise_nofile)
    out = p.stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            r["exit"] = p.returncode
            return r
    return {"error": "loadgen exit %d: %s" % (p.returncode, out.strip()[-500:])}


def run_scenario(build, workdir, scn, rounds):
    results = {s: [] for s in scn["servers"]}
    extra = []
    if scn["kind"] == "relay":
        duration = float(os.environ.get("BENCH_DURATION", scn["duration"]))
        extra = ["--warmup", str(scn["warmup"]), "--duration", str(duration)]
    for r in range(rounds):
        for name in scn["servers"]:
            tag = "%s-%s-r%d" % (scn["id"], name.replace("'", "2"), r)
            t0 = time.time()
            try:
                srv = Server(name, build, workdir, tag)
            except RuntimeError as e:
                results[name].append({"error": str(e)})
                log("  %-10s round %d: %s" % (name, r + 1, str(e).splitlines()[0]))
                continue
            try:
                if scn.get("prewarm"):
                    loadgen(build, srv, scn["prewarm"])  # first run after a restart is discarded
                res = loadgen(build, srv, scn["args"] + extra)
            except subprocess.TimeoutExpired:
                res = {"error": "load generator timed out"}
            finally:
                srv.stop()
            res["wall_s"] = time.time() - t0
            results[name].append(res)
            log("  %-10s round %d: %s" % (name, r + 1, summary(scn, res)))
    return results


def run_ledger(build, workdir, scn, rounds):
    """turnpike-ledger-bench: the relay's ledger writer at a fixed event rate, no servers."""
    out = []
    for i in range(rounds):
        p = subprocess.run([os.path.join(build, "bin", "turnpike-ledger-bench"), "--json", "--dir", workdir]
                           + scn["args"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        try:
            r = json.loads(p.stdout)
        except ValueError:
            r = {"error": (p.stderr or p.stdout)[-300:]}
        log("  round %d: %s" % (i + 1, r))
        out.append(r)
    return {"turnpike": out}


def profile(build, workdir, scn, server_name):
    """Runs one scenario against one server under `perf record -g` (whole process, measured window
    only) and writes the split by binary and the heaviest call chains to a text file."""
    if not shutil.which("perf"):
        sys.exit("perf is missing (Debian package linux-perf)")
    srv = Server(server_name, build, workdir, "profile-%s-%s" % (scn["id"], server_name))
    data = os.path.join(workdir, "profile-%s-%s.data" % (scn["id"], server_name))
    try:
        args = list(scn["args"])
        if scn["kind"] == "relay":
            args += ["--warmup", str(scn["warmup"]), "--duration", str(scn["duration"])]
        argv = [os.path.join(build, "bin", "turnpike-loadgen"), "--server", "127.0.0.1:%d" % srv.port,
                "--server-pid", str(srv.pid), "--json"] + args
        if srv.kind != "floor":
            argv += ["--secret", SECRET]
        gen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        time.sleep(scn.get("warmup", 0) + (1.0 if scn["kind"] == "relay" else 0.2))
        window = scn["duration"] - 1 if scn["kind"] == "relay" else 2
        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g", "-p", str(srv.pid),
                        "-o", data, "--", "sleep", str(window)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = gen.communicate(timeout=180)[0].decode(errors="replace")
    finally:
        srv.stop()
    report = ["# perf record -e cpu-clock -g, %s, %s, %s" % (server_name, scn["id"], scn["title"]),
              [l for l in out.splitlines() if l.startswith("RESULT")][-1][:400] if "RESULT" in out else out[-400:], ""]
    for title, extra in (("share by binary", ["--no-children", "--sort", "dso"]),
                         ("heaviest functions, callees included", ["--children", "--sort", "sym"]),
                         ("heaviest functions, self", ["--no-children", "--sort", "dso,sym"])):
        p = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", "--percent-limit", "1.5"] + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        lines = [l[:140] for l in p.stdout.decode(errors="replace").splitlines() if l.strip() and not l.startswith("#")]
        report += ["## " + title] + lines[:45] + [""]
    path = os.path.join(workdir, "profile-%s-%s.txt" % (scn["id"], server_name))
    with open(path, "w") as f:
        f.write("\n".join(report) + "\n")
    log("\n".join(report[:60]))
    log("wrote " + path)


def summary(scn, r):
    if "error" in r:
        return "ERROR " + r["error"].splitlines()[0][:200]
    if scn["kind"] == "relay":
        return ("%.2f us/pkt, %.0f pps, loss %.2f%%, rtt p50/p99 %.0f/%.0f us, server %.2f cores, gen %.2f, limit: %s"
                % (r.get("server_cpu_us_per_packet", 0), r["delivered_pps"], 100 * r["loss"], r["rtt_p50_us"],
                   r["rtt_p99_us"], r.get("server_cpu_cores", 0), r["generator_cpu_cores"], r["limit"]))
    if scn["kind"] == "alloc":
        return ("%.0f alloc/s, %.1f us CPU/alloc, %.2f KB/alloc, failed %d, limit: %s"
                % (r["allocations_per_s"], r.get("server_cpu_us_per_allocation", 0),
                   r.get("server_kb_per_allocation", 0), r["failed"], r["limit"]))
    return "%.0f B/source, answered %d of %d (%s)" % (r.get("server_bytes_per_source", 0), r["answered"],
                                                     r["sources"], r["answers"])


def median(results, key):
    vals = [r[key] for r in results if "error" not in r and key in r]
    return statistics.median(vals) if vals else None


def spread(results, key):
    vals = [r[key] for r in results if "error" not in r and key in r]
    if len(vals) < 2:
        return None
    m = statistics.median(vals)
    return (max(vals) - min(vals)) / 2 / m * 100 if m else None


# ---------------------------------------------------------------------------------------- report

def fmt(v, digits=2):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return ("{:.%df}" % digits).format(v)


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def machine_info(build):
    def run(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, shell=True,
                                  timeout=10).stdout.decode().strip()
        except Exception:
            return ""
    cpu = run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mem = run("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    return {
        "cpu": "%s, %d CPUs" % (cpu or platform.processor(), os.cpu_count() or 0),
        "memory": mem,
        "kernel": platform.release(),
        "os": run(". /etc/os-release && echo $PRETTY_NAME"),
        "coturn": run("dpkg-query -W -f='${Version}' coturn"),
        "libevent": run("pkg-config --modversion libevent"),
        "compiler": run("c++ --version | head -1"),
        "turnpike": run("git -C %s rev-parse --short HEAD" % SOURCE) + (
            " (with uncommitted changes)" if run(  # the previous run's own outputs do not count
                "git -C %s status --porcelain -- server tests ':!tests/bench/results'" % SOURCE) else ""),
        "build_type": run("grep -m1 CMAKE_BUILD_TYPE:STRING= %s/CMakeCache.txt | cut -d= -f2" % build),
        "load_average_before": run("cut -d' ' -f1-3 /proc/loadavg"),
    }


def relay_table(scn, res, floor_p99):
    lines = ["| server | server CPU per delivered packet | delivered pps (both directions) | server CPU (cores) "
             "| loss | RTT p50 | RTT p99 | RTT p99.9 | added p99 vs floor | what limited it |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in scn["servers"]:
        rs = res[name]
        ok = [r for r in rs if "error" not in r]
        if not ok:
            lines.append("| %s | failed: %s | | | | | | | | |" % (name, rs[0]["error"].splitlines()[0][:80] if rs else "not run"))
            continue
        p99 = median(rs, "rtt_p99_us")
        limits = sorted(set(r["limit"].split(" (")[0] for r in ok))
        lines.append("| %s | %s µs (±%s %%) | %s | %s | %s %% | %s µs | %s µs | %s µs | %s | %s |" % (
            name, fmt(median(rs, "server_cpu_us_per_packet")), fmt(spread(rs, "server_cpu_us_per_packet"), 0),
            fmt(median(rs, "delivered_pps")), fmt(median(rs, "server_cpu_cores")),
            fmt(100 * median(rs, "loss"), 3), fmt(median(rs, "rtt_p50_us"), 0), fmt(p99, 0),
            fmt(median(rs, "rtt_p999_us"), 0),
            ("%s µs" % fmt(p99 - floor_p99, 0)) if (p99 is not None and floor_p99 is not None and name != "floor") else "–",
            ", ".join(limits)))
    return lines


def generator_limited(*runs):
    """True when most runs of any of these servers were limited by the load generator: their
    latencies then time the generator's own queues, not the server."""
    for rs in runs:
        ok = [r for r in rs if "error" not in r]
        if ok and sum(r["limit"].startswith("generator") for r in ok) * 2 > len(ok):
            return True
    return False


def build_report(data):
    res, info = data["results"], data["machine"]
    out = []
    out.append("Generated by `make bench` (tests/bench/run.py) on %s in %.1f minutes, %d rounds; medians over "
               "rounds, ± is half the min-max spread in %% of the median." % (
                   data["finished"], data["elapsed_s"] / 60, data["rounds"]))
    out.append("")
    out.append("Machine: %s, %s, Linux %s, %s. Versions: turnpike %s (%s build), coturn %s (Debian package), "
               "libevent %s, %s. Load average before the run: %s." % (
                   info["cpu"], info["memory"], info["kernel"], info["os"], info["turnpike"], info["build_type"],
                   info["coturn"], info["libevent"], info["compiler"], info["load_average_before"]))
    out.append("")
    out.append("Reproduce: `make bench` (or `tests/bench/run.sh build`; `BENCH_ROUNDS=8` for more rounds). "
               "Everything runs on 127.0.0.1: server, load generator and echo peers share the machine's CPUs, "
               "so compare ratios from the same run, not absolute numbers across machines.")
    out.append("")
    out.append("![server CPU per relayed packet, latency and allocation cost](tests/bench/results/benchmarks.png)")
    out.append("")

    targets = []
    for scn in SCENARIOS:
        if scn["id"] not in res:
            continue
        r = res[scn["id"]]
        scn = dict(scn, servers=list(r.keys()))  # the servers of this run (--servers may differ)
        out.append("### %s" % scn["title"])
        out.append("")
        out.append("`%s %s`" % ("turnpike-ledger-bench" if scn["kind"] == "ledger" else "turnpike-loadgen",
                                 " ".join(scn["args"])))
        out.append("")
        if scn["kind"] == "relay":
            floor_p99 = median(r["floor"], "rtt_p99_us") if "floor" in r else None
            out += relay_table(scn, r, floor_p99)
            out.append("")
            if generator_limited(*r.values()):
                out.append("The load generator was the limit in most rounds (it fell behind its schedule): the "
                           "latencies above time its own queues, and only the CPU per delivered packet compares "
                           "the servers.")
                out.append("")
            peers = [c for c in ("coturn-4.17", "coturn") if c in r]
            if peers and "turnpike" in r:
                tp = median(r["turnpike"], "server_cpu_us_per_packet")
                fl = median(r.get("floor", []), "server_cpu_us_per_packet")
                out.append("Ratios of medians: " + "; ".join(
                    "CPU per packet turnpike/%s **%s**, RTT p99 turnpike/%s **%s**" % (
                        c, fmt(ratio(tp, median(r[c], "server_cpu_us_per_packet"))), c,
                        fmt(ratio(median(r["turnpike"], "rtt_p99_us"), median(r[c], "rtt_p99_us"))))
                    for c in peers) + "; CPU per packet turnpike/floor **%s**." % fmt(ratio(tp, fl)))
                out.append("")
                # The targets are against the strongest peer measured: coturn's newest release.
                peer = peers[0]
                ct = median(r[peer], "server_cpu_us_per_packet")
                q = ratio(tp, ct)
                if scn["id"] != "latency":  # the CPU targets are for the one-flow and many-flows loads
                    targets.append(("CPU per delivered packet ≤ 0.4× %s (%s)" % (peer, scn["id"]),
                                    "%s× (%s vs %s µs)" % (fmt(q), fmt(tp), fmt(ct)), q is not None and q <= 0.4))
                if scn["id"] in ("many-flows", "latency"):
                    a, b = median(r["turnpike"], "rtt_p99_us"), median(r[peer], "rtt_p99_us")
                    met = a is not None and b is not None and a < b
                    if generator_limited(r["turnpike"], r[peer]):
                        met = None
                    targets.append(("RTT p99 below %s's (%s)" % (peer, scn["id"]), "%s vs %s µs" % (fmt(a, 0), fmt(b, 0)),
                                    met))
            names = scn["servers"]
            if len(names) == 2 and not any(n.startswith("coturn") for n in names):
                a, b = r[names[0]], r[names[1]]
                d = lambda k: ratio(median(a, k), median(b, k))
                out.append("%s/%s ratio of medians: CPU per packet %s, delivered pps %s, RTT p99 %s%s." % (
                    names[0], names[1], fmt(d("server_cpu_us_per_packet")), fmt(d("delivered_pps")),
                    fmt(d("rtt_p99_us")), " (same server twice: 1.00 = no noise)" if scn["id"] == "noise" else ""))
                out.append("")
        elif scn["kind"] == "ledger":
            rs = [x for x in r["turnpike"] if "error" not in x]
            out.append("| events/s | writer CPU (share of one core) | writer CPU per event | worker cost per event "
                       "pushed | ring drops | rows written | SQLite floor: one bare row appended |")
            out.append("|---:|---:|---:|---:|---:|---:|---:|")
            if rs:
                floor_us = median(rs, "sqlite_floor_us_per_row")
                out.append("| %s | %s %% (±%s %%) | %s µs | %s ns | %s | %s of %s | %s |" % (
                    fmt(median(rs, "rate"), 0), fmt(median(rs, "writer_core_percent")),
                    fmt(spread(rs, "writer_core_percent"), 0), fmt(median(rs, "writer_us_per_event")),
                    fmt(median(rs, "push_ns_per_event"), 0), fmt(max(x["dropped"] for x in rs), 0),
                    fmt(median(rs, "written"), 0), fmt(median(rs, "events"), 0),
                    "–" if floor_us is None else "%s µs = %s %% of one core at this rate" % (
                        fmt(floor_us), fmt(floor_us * median(rs, "rate") / 1e4))))
                pct = median(rs, "writer_core_percent")
                drops = max(x["dropped"] for x in rs)
                targets.append(("Ledger at 10,000 events/s: under 1 % of one core", "%s %%%s" % (
                    fmt(pct), "" if floor_us is None else " (SQLite's floor for one bare row per event: %s %%)" %
                    fmt(floor_us * median(rs, "rate") / 1e4)), pct is not None and pct < 1))
                targets.append(("Ledger queue never overflows at 10,000 events/s", "%d events dropped" % drops,
                                drops == 0))
            out.append("")
        elif scn["kind"] == "alloc":
            out.append("| server | allocations/s | server CPU per allocation set-up | memory per allocation (RSS delta) "
                       "| failed | what limited it |")
            out.append("|---|---:|---:|---:|---:|---|")
            for name in scn["servers"]:
                rs = r[name]
                ok = [x for x in rs if "error" not in x]
                if not ok:
                    out.append("| %s | failed: %s | | | | |" % (name, rs[0]["error"][:80] if rs else "not run"))
                    continue
                out.append("| %s | %s | %s µs (±%s %%) | %s KB | %s | %s |" % (
                    name, fmt(median(rs, "allocations_per_s")), fmt(median(rs, "server_cpu_us_per_allocation"), 1),
                    fmt(spread(rs, "server_cpu_us_per_allocation"), 0), fmt(median(rs, "server_kb_per_allocation")),
                    fmt(median(rs, "failed"), 0), ", ".join(sorted(set(x["limit"].split(" (")[0] for x in ok)))))
            out.append("")
            peers = [c for c in ("coturn-4.17", "coturn") if c in r]
            if peers and "turnpike" in r:
                tpa = median(r["turnpike"], "server_cpu_us_per_allocation")
                out.append("Ratios of medians: " + "; ".join(
                    "CPU per allocation turnpike/%s **%s**, memory turnpike/%s **%s**" % (
                        c, fmt(ratio(tpa, median(r[c], "server_cpu_us_per_allocation"))), c,
                        fmt(ratio(median(r["turnpike"], "server_kb_per_allocation"),
                                  median(r[c], "server_kb_per_allocation")))) for c in peers) + ".")
                out.append("")
                cta = median(r[peers[0]], "server_cpu_us_per_allocation")
                q = ratio(tpa, cta)
                targets.append(("Server CPU per allocation set-up ≤ 0.1× %s" % peers[0], "%s× (%s vs %s µs)" % (
                    fmt(q), fmt(tpa, 1), fmt(cta, 1)), q is not None and q <= 0.1))
            kb = median(r.get("turnpike", []), "server_kb_per_allocation")
            targets.append(("≤ 4 KB user-space memory per allocation", "%s KB" % fmt(kb), kb is not None and kb <= 4))
        else:
            out.append("| server | RSS growth per source | answers |")
            out.append("|---|---:|---|")
            for name in scn["servers"]:
                rs = r[name]
                ok = [x for x in rs if "error" not in x]
                if not ok:
                    out.append("| %s | failed | |" % name)
                    continue
                out.append("| %s | %s bytes | %s |" % (name, fmt(median(rs, "server_bytes_per_source"), 0), ok[-1]["answers"]))
            out.append("")
            b = median(r.get("turnpike", []), "server_bytes_per_source")
            targets.append(("No per-source state before authentication", "%s bytes per source" % fmt(b, 0),
                            b is not None and b < 64))
    out.insert(0, "")
    tbl = ["### Targets (turnpike, medians of this run)", "", "| target | measured | met? |", "|---|---|---|"]
    for name, val, ok in targets:
        tbl.append("| %s | %s | %s |" % (name, val, "**yes**" if ok else "**no**" if ok is not None else
                                         "inconclusive: the load generator was the limit"))
    tbl.append("")
    return "\n".join(tbl + out)


def write_chart(data, path, workdir):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        log("gnuplot not found: no chart (make bench installs gnuplot-nox)")
        return False
    res = data["results"]
    relay = [s for s in SCENARIOS if s["kind"] == "relay" and s["id"] in res and s["id"] != "noise"]
    dat = os.path.join(workdir, "relay.dat")
    with open(dat, "w") as f:
        f.write("# scenario CPU of %s, then their p99\n" % " ".join(RELAY3))
        for s in relay:
            r = res[s["id"]]
            vals = [median(r.get(n, []), "server_cpu_us_per_packet") for n in RELAY3]
            p99 = [median(r.get(n, []), "rtt_p99_us") for n in RELAY3]
            f.write("%s %s\n" % (s["id"], " ".join("%g" % (v or 0) for v in vals + p99)))
    alloc, pre = res.get("alloc-10k", {}), res.get("preauth", {})
    adat = os.path.join(workdir, "alloc.dat")
    setup_servers = ["turnpike", "coturn-4.17", "coturn"]
    with open(adat, "w") as f:
        f.write("# metric %s\n" % " ".join(setup_servers))
        f.write("set-up %s\n" % " ".join("%g" % (median(alloc.get(n, []), "server_cpu_us_per_allocation") or 0)
                                         for n in setup_servers))
    mdat = os.path.join(workdir, "memory.dat")
    with open(mdat, "w") as f:
        f.write("# metric %s\n" % " ".join(setup_servers))
        f.write("allocation %s\n" % " ".join("%g" % (median(alloc.get(n, []), "server_kb_per_allocation") or 0)
                                             for n in setup_servers))
        f.write("\"unauth. source\" %s\n" % " ".join(
            "%g" % ((median(pre.get(n, []), "server_bytes_per_source") or 0) / 1024) for n in setup_servers))
    script = os.path.join(workdir, "chart.gp")
    with open(script, "w") as f:
        f.write("""set terminal pngcairo size 1800,500 font "DejaVu Sans,11"
set output "%(out)s"
set multiplot layout 1,4 title "turnpike vs coturn 4.17.1 vs coturn 4.6.1 vs floor relay (127.0.0.1, medians of alternating rounds; lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set xtics rotate by -20
set yrange [0:*]
set title "server CPU per delivered relayed packet (µs)"
plot "%(dat)s" using 2:xtic(1) title "turnpike" lc rgb "#1f77b4", '' using 3 title "coturn 4.17.1" lc rgb "#d62728", '' using 4 title "coturn 4.6.1" lc rgb "#ff9896", '' using 5 title "floor" lc rgb "#7f7f7f"
set title "round-trip time p99 (µs, log scale)"
set logscale y
set yrange [10:*]
plot "%(dat)s" using 6:xtic(1) title "turnpike" lc rgb "#1f77b4", '' using 7 title "coturn 4.17.1" lc rgb "#d62728", '' using 8 title "coturn 4.6.1" lc rgb "#ff9896", '' using 9 title "floor" lc rgb "#7f7f7f"
unset logscale y
set yrange [0:*]
set xtics norotate
set title "server CPU per allocation set-up (µs)"
plot "%(adat)s" using 2:xtic(1) title "turnpike" lc rgb "#1f77b4", '' using 3 title "coturn 4.17.1" lc rgb "#d62728", '' using 4 title "coturn 4.6.1" lc rgb "#ff9896"
set title "memory kept per allocation / per source (KB)"
plot "%(mdat)s" using 2:xtic(1) title "turnpike" lc rgb "#1f77b4", '' using 3 title "coturn 4.17.1" lc rgb "#d62728", '' using 4 title "coturn 4.6.1" lc rgb "#ff9896"
unset multiplot
""" % {"out": path, "dat": dat, "adat": adat, "mdat": mdat})
    p = subprocess.run([gnuplot, script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        log("gnuplot failed:\n" + p.stdout.decode(errors="replace"))
        return False
    return True


BEGIN, END = "<!-- BEGIN GENERATED by tests/bench/run.py -->", "<!-- END GENERATED -->"
TEMPLATE = """# Benchmarks

turnpike against coturn 4.6.1 and against the floor, side by side in one run. See
tests/bench/run.py for the method and the notes below the generated part for the analysis.

%s
%s
"""


def write_markdown(path, body):
    block = BEGIN + "\n" + body + "\n" + END
    if os.path.exists(path):
        text = open(path).read()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            text = head + block + tail
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = TEMPLATE % (BEGIN, body + "\n" + END)
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(SOURCE, "build"))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "5")))
    ap.add_argument("--scenarios", default=os.environ.get("BENCH_SCENARIOS", ""))
    ap.add_argument("--markdown", default=os.path.join(SOURCE, "BENCHMARKS.md"))
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--report-only", help="rebuild the report from this results.json")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=BINARY",
                    help="another turnpike binary to compare, usable in --servers")
    ap.add_argument("--servers", help="comma-separated servers for every scenario (e.g. turnpike,before)")
    ap.add_argument("--profile", metavar="SCENARIO", help="profile one scenario with perf instead of benchmarking")
    ap.add_argument("--profile-server", default="turnpike")
    a = ap.parse_args()
    for v in a.variant:
        name, path = v.split("=", 1)
        VARIANTS[name] = os.path.abspath(path)
    if a.servers:
        for scn in SCENARIOS:
            scn["servers"] = a.servers.split(",")
    build = os.path.abspath(a.build)
    workdir = os.path.join(build, "bench")
    os.makedirs(workdir, exist_ok=True)
    os.makedirs(a.results_dir, exist_ok=True)

    if a.profile:
        profile(build, workdir, next(s for s in SCENARIOS if s["id"] == a.profile), a.profile_server)
        return
    if a.report_only:
        data = json.load(open(a.report_only))
    else:
        for tool in ("turnpike", "turnpike-loadgen", "turnpike-floor-relay"):
            if not os.path.exists(os.path.join(build, "bin", tool)):
                sys.exit("missing %s/bin/%s: build first (make bench builds)" % (build, tool))
        if not shutil.which("turnserver"):
            sys.exit("turnserver (Debian package coturn) is missing: make bench installs it")
        wanted = [s for s in a.scenarios.split(",") if s]
        start = time.time()
        data = {"machine": machine_info(build), "rounds": a.rounds, "results": {}, "scenarios": SCENARIOS}
        for scn in SCENARIOS:
            if wanted and scn["id"] not in wanted:
                continue
            rounds = min(a.rounds, scn.get("rounds", a.rounds))
            log("== %s (%d rounds): %s" % (scn["id"], rounds, scn["title"]))
            if scn["kind"] == "ledger":
                data["results"][scn["id"]] = run_ledger(build, workdir, scn, rounds)
            else:
                data["results"][scn["id"]] = run_scenario(build, workdir, scn, rounds)
        data["elapsed_s"] = time.time() - start
        data["finished"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump(data, f, indent=1)
        shutil.copy(os.path.join(workdir, "results.json"), os.path.join(a.results_dir, "results.json"))
    write_chart(data, os.path.join(a.results_dir, "benchmarks.png"), workdir)
    body = build_report(data)
    write_markdown(a.markdown, body)
    log("\n" + body)
    log("\nwrote %s and %s" % (a.markdown, os.path.join(a.results_dir, "benchmarks.png")))


if __name__ == "__main__":
    main()
