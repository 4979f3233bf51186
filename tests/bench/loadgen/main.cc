// turnpike-loadgen: a TURN load generator for benchmarks (tests/bench/run.py) and a smoke test.
// See options.cc for the command line, setup.h for the control plane, traffic.h for the data
// plane and echo_peers.h for the peers.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "loadgen/cpu_account.h"
#include "loadgen/echo_peers.h"
#include "loadgen/hold.h"
#include "loadgen/netns.h"
#include "loadgen/options.h"
#include "loadgen/proc_stats.h"
#include "loadgen/report.h"
#include "loadgen/setup.h"
#include "loadgen/traffic.h"

using namespace bench;

namespace {

void sleep_s(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::string errors_text(const std::map<uint16_t, unsigned>& errors) {
  std::string t;
  for (const auto& [code, n] : errors) {
    t += (t.empty() ? "" : ", ") + std::to_string(n) + "x " +
         (code ? std::to_string(code) : "timeout");
  }
  return t;
}

// Which side limited a saturating run: the side whose busiest thread had a whole CPU.
std::string verdict(double server_busiest, double gen_busiest, double machine, bool paced_behind) {
  if (paced_behind) return "generator (behind its sending schedule)";
  if (server_busiest >= 0.9) return "server (a server thread used >= 90% of a CPU)";
  if (gen_busiest >= 0.9) return "generator (a generator thread used >= 90% of a CPU)";
  if (machine >= 0.95) return "machine (all CPUs busy: server and generator share them)";
  return "none (offered load or window)";
}

struct Snapshot {
  int64_t t = 0;
  uint64_t sent = 0, client_received = 0, peer_received = 0, gen_drops = 0, server_drops = 0;
  ProcSample server, self;
  MachineSample machine;
  CpuAccountSample cpu;
};

// A set-up step failed: say why, exit 2 (bad usage or environment, not a measurement).
int setup_failed(const std::string& error) {
  std::fprintf(stderr, "turnpike-loadgen: %s\n", error.c_str());
  return 2;
}

// Joins `ns` unless it is empty (--peer-netns, --client-netns).
bool enter(const std::string& ns, std::string* error) {
  return ns.empty() || enter_netns(ns, error);
}

int run_relay(const Options& o) {
  std::string error;
  CpuAccount account;
  for (const auto& spec : o.account) {
    if (!account.add_group(spec, &error)) return setup_failed(error);
  }
  EchoPeers peers;
  if (!enter(o.peer_netns, &error) || !peers.start(o.peer_ip, o.peers, 1, o.gso, &error)) {
    return setup_failed(error);
  }
  std::vector<Session> sessions;
  const int buf = o.allocations <= 16 ? 4 << 20 : 256 << 10;
  if (!enter(o.client_netns, &error)) return setup_failed(error);
  if (!open_client_sockets(sessions, o.allocations, o.client_ips, o.client_net, o.client_prefix, o.server, buf,
                           &error)) {
    return setup_failed(error);
  }
  for (auto& s : sessions) s.peer = peers.addresses()[s.index % o.peers];
  const SetupResult setup = run_setup(sessions, o);
  if (setup.failed) {
    std::fprintf(stderr, "turnpike-loadgen: %u of %zu allocations failed (%s)\n", setup.failed,
                 sessions.size(), errors_text(setup.errors).c_str());
    return 2;
  }

  std::atomic<int> phase{kWarmup};
  std::vector<std::unique_ptr<Shard>> shards;
  for (unsigned t = 0; t < o.threads; ++t) {
    std::vector<Session*> mine;
    for (size_t i = t; i < sessions.size(); i += o.threads) mine.push_back(&sessions[i]);
    shards.push_back(std::make_unique<Shard>(std::move(mine), o, phase));
  }
  auto snapshot = [&](bool full) {
    Snapshot s;
    s.t = now_ns();
    for (auto& sh : shards) {
      s.sent += sh->sent();
      s.client_received += sh->received();
      if (full) s.gen_drops += sh->drops();
    }
    s.peer_received = peers.received();
    if (full) {
      s.gen_drops += peers.drops();
      if (o.server_pid) {
        s.server = sample_process(o.server_pid);
        s.server_drops = udp_socket_drops(o.server_pid);
      }
      s.self = sample_process(getpid());
      s.machine = sample_machine();
      if (!account.empty()) s.cpu = account.sample();
    }
    return s;
  };

  Snapshot a, b;
  const uint64_t target = o.packets * sessions.size();
  if (o.packets) {
    // Smoke run: a fixed number of packets, every one of which should come back. The window
    // opens before the first send: started first, the shards sent (and had echoed) packets
    // before the snapshot, which then missed them (CI on 9e7969d: 398 of 400 relayed counted).
    phase = kMeasure;
    a = snapshot(true);
    for (auto& sh : shards) sh->start();
    const int64_t give_up = now_ns() + int64_t((o.duration_s + 10) * 1e9);
    auto all_sent = [&] {
      for (auto& sh : shards) {
        if (!sh->finished_sending()) return false;
      }
      return true;
    };
    while (!all_sent() && now_ns() < give_up) sleep_s(0.01);
    const int64_t drain_until = now_ns() + 2'000'000'000;
    while (snapshot(false).client_received < target && now_ns() < drain_until) sleep_s(0.01);
    b = snapshot(true);
  } else {
    for (auto& sh : shards) sh->start();
    sleep_s(o.warmup_s);
    phase = kMeasure;
    a = snapshot(true);
    sleep_s(o.duration_s);
    b = snapshot(true);
    phase = kDrain;
    sleep_s(0.3);
  }
  phase = kExit;
  Histogram rtt;
  uint64_t behind = 0, send_errors = 0, total_sent = 0, total_received = 0;
  for (auto& sh : shards) {
    sh->join();
    rtt.merge(sh->rtt());
    behind += sh->behind();
    send_errors += sh->send_errors();
    total_sent += sh->sent();
    total_received += sh->received();
  }

  const double dt = double(b.t - a.t) / 1e9;
  const uint64_t relayed =
      (b.peer_received - a.peer_received) + (b.client_received - a.client_received);
  const double loss = total_sent ? 1.0 - double(total_received) / double(total_sent) : 1.0;
  const double target_pps = o.rate * double(sessions.size());
  const double offered_pps = double(b.sent - a.sent) / dt;

  Report r;
  r.add("mode", "relay");
  r.add("allocations", sessions.size());
  r.add("peers", o.peers);
  r.add("size", o.size);
  r.add("rate_per_allocation", o.rate);
  r.add("window", o.rate > 0 ? 0 : o.window);
  r.add("setup_s", double(setup.elapsed_ns) / 1e9);
  r.add("measured_s", dt);
  r.add("sent", total_sent);
  r.add("round_trips", total_received);
  r.add("loss", loss);
  r.add("offered_pps", offered_pps);
  if (target_pps > 0) r.add("target_pps", target_pps);
  r.add("relayed_packets", relayed);
  r.add("delivered_pps", double(relayed) / dt);
  r.add("round_trips_per_s", double(b.client_received - a.client_received) / dt);
  r.add("rtt_samples", rtt.count());
  r.add("rtt_p50_us", double(rtt.quantile(0.5)) / 1e3);
  r.add("rtt_p99_us", double(rtt.quantile(0.99)) / 1e3);
  r.add("rtt_p999_us", double(rtt.quantile(0.999)) / 1e3);
  r.add("generator_cpu_cores", (b.self.cpu_s - a.self.cpu_s) / dt);
  const double gen_busiest = busiest_thread(a.self, b.self);
  r.add("generator_busiest_thread", gen_busiest);
  r.add("generator_socket_drops", b.gen_drops - a.gen_drops);
  r.add("generator_send_errors", send_errors);
  r.add("generator_behind", behind);
  const double machine = machine_busy(a.machine, b.machine);
  r.add("machine_busy", machine);
  r.add("udp_rcvbuf_errors", b.machine.udp_rcvbuf_errors - a.machine.udp_rcvbuf_errors);
  if (!account.empty()) {
    // Machine-wide CPU (cpu_account.h), in cores over the window; run.py derives the relay's.
    r.add("machine_busy_cores", (b.cpu.machine_busy_s - a.cpu.machine_busy_s) / dt);
    r.add("machine_softirq_cores", (b.cpu.machine_softirq_s - a.cpu.machine_softirq_s) / dt);
    r.add("machine_cpus", (b.cpu.machine_total_s - a.cpu.machine_total_s) / dt);
    for (const auto& [label, sec] : b.cpu.group_s) {
      r.add("cpu_" + label + "_cores", (sec - a.cpu.group_s[label]) / dt);
      r.add("run_" + label + "_cores", (b.cpu.group_run_s[label] - a.cpu.group_run_s[label]) / dt);
    }
    r.add("other_user_cores", (b.cpu.other_user_s - a.cpu.other_user_s) / dt);
    r.add("other_kernel_cores", (b.cpu.other_kernel_s - a.cpu.other_kernel_s) / dt);
  }
  double server_busiest = 0;
  if (o.server_pid && a.server.ok && b.server.ok) {
    const double cpu = b.server.cpu_s - a.server.cpu_s;
    server_busiest = busiest_thread(a.server, b.server);
    r.add("server_cpu_s", cpu);
    r.add("server_cpu_cores", cpu / dt);
    r.add("server_busiest_thread", server_busiest);
    r.add("server_cpu_us_per_packet", relayed ? cpu * 1e6 / double(relayed) : 0);
    r.add("server_rss_kb", b.server.rss_kb);
    r.add("server_socket_drops", b.server_drops - a.server_drops);
  }
  const bool paced_behind =
      target_pps > 0 && !o.packets && (behind > 0 || offered_pps < 0.95 * target_pps);
  r.add("limit", o.packets ? "n/a (fixed packet count)"
                           : verdict(server_busiest, gen_busiest, machine, paced_behind));
  r.print(o.json_only);
  peers.stop();
  close_client_sockets(sessions);
  if (o.max_loss >= 0 && (loss > o.max_loss || (o.packets && total_sent < target))) {
    std::fprintf(stderr, "turnpike-loadgen: loss %.4f above %.4f (sent %lu of %lu, received %lu)\n",
                 loss, o.max_loss, (unsigned long)total_sent, (unsigned long)target,
                 (unsigned long)total_received);
    return 1;
  }
  return 0;
}

int run_alloc(const Options& o) {
  std::string error;
  EchoPeers peers;
  if (!enter(o.peer_netns, &error) || !peers.start(o.peer_ip, o.peers, 1, o.gso, &error)) {
    return setup_failed(error);
  }
  std::vector<Session> sessions;
  if (!enter(o.client_netns, &error)) return setup_failed(error);
  if (!open_client_sockets(sessions, o.allocations, o.client_ips, o.client_net, o.client_prefix, o.server, 64 << 10,
                           &error)) {
    return setup_failed(error);
  }
  for (auto& s : sessions) s.peer = peers.addresses()[s.index % o.peers];
  ProcSample sa, sb, sc;
  if (o.server_pid) sa = sample_process(o.server_pid);
  const ProcSample ga = sample_process(getpid());
  const MachineSample ma = sample_machine();
  const SetupResult setup = run_setup(sessions, o);
  if (o.server_pid) sb = sample_process(o.server_pid);
  const ProcSample gb = sample_process(getpid());
  const MachineSample mb = sample_machine();
  sleep_s(o.hold_s);
  if (o.server_pid) sc = sample_process(o.server_pid);

  const double dt = double(setup.elapsed_ns) / 1e9;
  Report r;
  r.add("mode", "alloc");
  r.add("allocations", sessions.size());
  r.add("done", setup.done);
  r.add("failed", setup.failed);
  if (setup.failed) r.add("errors", errors_text(setup.errors));
  r.add("requests", setup.requests);
  r.add("retransmits", setup.retransmits);
  r.add("setup_s", dt);
  r.add("allocations_per_s", setup.done / dt);
  const double gen_busiest = busiest_thread(ga, gb);
  r.add("generator_busiest_thread", gen_busiest);
  r.add("machine_busy", machine_busy(ma, mb));
  double server_busiest = 0;
  if (o.server_pid && sa.ok && sb.ok && sc.ok) {
    const double cpu = sb.cpu_s - sa.cpu_s;
    server_busiest = busiest_thread(sa, sb);
    r.add("server_cpu_s", cpu);
    r.add("server_busiest_thread", server_busiest);
    r.add("server_cpu_us_per_allocation", setup.done ? cpu * 1e6 / setup.done : 0);
    r.add("server_rss_before_kb", sa.rss_kb);
    r.add("server_rss_after_kb", sc.rss_kb);
    r.add("server_kb_per_allocation",
          setup.done ? (double(sc.rss_kb) - double(sa.rss_kb)) / setup.done : 0);
  }
  r.add("limit", verdict(server_busiest, gen_busiest, machine_busy(ma, mb), false));
  r.print(o.json_only);
  peers.stop();
  close_client_sockets(sessions);
  return setup.failed ? 1 : 0;
}

// Held, refreshing allocations (hold.h): what holding them costs the server, sampled over the
// hold after the set-up, and whether every Refresh was answered.
int run_hold_mode(const Options& o) {
  std::string error;
  EchoPeers peers;
  if (!enter(o.peer_netns, &error) || !peers.start(o.peer_ip, o.peers, 1, o.gso, &error)) {
    return setup_failed(error);
  }
  std::vector<Session> sessions;
  if (!enter(o.client_netns, &error)) return setup_failed(error);
  if (!open_client_sockets(sessions, o.allocations, o.client_ips, o.client_net, o.client_prefix,
                           o.server, 16 << 10, &error)) {
    return setup_failed(error);
  }
  for (auto& s : sessions) s.peer = peers.addresses()[s.index % o.peers];
  ProcSample sa, sb, sc;
  if (o.server_pid) sa = sample_process(o.server_pid);
  const SetupResult setup = run_setup(sessions, o);
  // Ready for the caller (run.py starts the active flows now): one line on stdout.
  std::printf("HELD %u of %zu allocations in %.1f s\n", setup.done, sessions.size(),
              double(setup.elapsed_ns) / 1e9);
  std::fflush(stdout);
  if (o.server_pid) sb = sample_process(o.server_pid);
  const MachineSample ma = sample_machine();
  const int64_t t0 = now_ns();
  const HoldResult h = run_hold(sessions, o, setup.realm, o.hold_s, o.refresh_s);
  const double dt = double(now_ns() - t0) / 1e9;
  if (o.server_pid) sc = sample_process(o.server_pid);
  const MachineSample mb = sample_machine();
  Report r;
  r.add("mode", "hold");
  r.add("allocations", sessions.size());
  r.add("done", setup.done);
  r.add("failed", setup.failed);
  if (setup.failed) r.add("errors", errors_text(setup.errors));
  r.add("setup_s", double(setup.elapsed_ns) / 1e9);
  r.add("hold_s", dt);
  r.add("refresh_interval_s", o.refresh_s);
  r.add("refreshes", h.refreshes);
  r.add("refresh_failed", h.failed);
  r.add("refresh_stale_nonce", h.stale_nonce);
  r.add("refresh_retransmits", h.retransmits);
  r.add("refresh_late", h.late);
  r.add("machine_busy", machine_busy(ma, mb));
  if (o.server_pid && sa.ok && sb.ok && sc.ok) {
    r.add("server_rss_before_kb", sa.rss_kb);
    r.add("server_rss_held_kb", sb.rss_kb);
    r.add("server_rss_after_kb", sc.rss_kb);
    r.add("server_kb_per_allocation",
          setup.done ? (double(sb.rss_kb) - double(sa.rss_kb)) / setup.done : 0);
    r.add("server_cpu_setup_s", sb.cpu_s - sa.cpu_s);
    r.add("server_cpu_hold_cores", (sc.cpu_s - sb.cpu_s) / dt);
  }
  r.print(o.json_only);
  peers.stop();
  close_client_sockets(sessions);
  return setup.failed || h.failed ? 1 : 0;
}

int run_unauth_mode(const Options& o) {
  std::string error;
  std::vector<Session> sessions;
  if (!enter(o.client_netns, &error)) return setup_failed(error);
  if (!open_client_sockets(sessions, o.allocations, o.client_ips, o.client_net, o.client_prefix, o.server, 64 << 10,
                           &error)) {
    return setup_failed(error);
  }
  ProcSample sa, sb;
  if (o.server_pid) sa = sample_process(o.server_pid);
  const UnauthResult u = run_unauth(sessions, o.hold_s);
  sleep_s(0.2);
  if (o.server_pid) sb = sample_process(o.server_pid);
  Report r;
  r.add("mode", "unauth");
  r.add("sources", u.sent);
  r.add("answered", u.answered);
  std::string codes;
  for (const auto& [c, n] : u.codes)
    codes += (codes.empty() ? "" : ", ") + std::to_string(n) + "x " + std::to_string(c);
  r.add("answers", codes);
  if (o.server_pid && sa.ok && sb.ok) {
    r.add("server_cpu_s", sb.cpu_s - sa.cpu_s);
    r.add("server_rss_before_kb", sa.rss_kb);
    r.add("server_rss_after_kb", sb.rss_kb);
    r.add("server_bytes_per_source",
          u.sent ? (double(sb.rss_kb) - double(sa.rss_kb)) * 1024 / u.sent : 0);
  }
  r.print(o.json_only);
  close_client_sockets(sessions);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const auto o = parse_options(argc, argv);
  if (!o) return 2;
  switch (o->mode) {
    case Mode::Relay:
      return run_relay(*o);
    case Mode::Alloc:
      return run_alloc(*o);
    case Mode::Unauth:
      return run_unauth_mode(*o);
    case Mode::Hold:
      return run_hold_mode(*o);
  }
  return 2;
}
