#include "loadgen/options.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

namespace bench {

namespace {

constexpr const char* kUsage = R"(usage: turnpike-loadgen [options]

Opens TURN allocations (TURN REST credentials, long-term authentication with the 401/nonce
exchange), binds a channel on each to one of M UDP echo peers and relays ChannelData through
them, or measures allocation set-up. Everything runs on loopback.

  --mode relay|alloc|unauth|hold
                             relay: traffic; alloc: K allocations as fast as possible, held;
                             unauth: K sources each send one unauthenticated Allocate;
                             hold: K allocations set up, then held --hold S seconds, each
                             sending Refresh every --refresh S seconds (hold.h)
  --server IP:PORT           the TURN server (default 127.0.0.1:3478)
  --secret S                 static-auth-secret (omit for a server without authentication)
  --user NAME                user part of the REST usernames (default bench)
  --allocations N            allocations (relay) or K (alloc, unauth)         [1]
  --peers M                  echo peers; allocation i binds peer i mod M      [1]
  --peer-ip IP               address of the echo peers                        [127.0.0.1]
  --client-ips N             spread client sockets over N addresses 127.1.x.y [200]
  --client-net K             use 127.K.x.y instead (runs against one server     [1]
                             must not reuse each other's client addresses)
  --client-prefix A.B        client sockets on A.B.x.y (x = j/250, y = 2 + j%250) instead of 127.K.x.y
  --client-netns NS          open the client sockets in network namespace NS (setns; a name from
                             `ip netns add` or a path such as /proc/PID/ns/net)
  --peer-netns NS            open the echo peers' sockets in network namespace NS
  --account LABEL=PID,...    machine-wide CPU over the measured window: /proc/stat busy time, the
                             CPU of these pids as LABEL, of this process, of every other process
                             (repeatable; see cpu_account.h)
  --size B                   ChannelData payload bytes                        [160]
  --rate PPS                 packets/s per allocation; 0 = flat out            [0]
  --window W                 packets in flight per allocation when flat out   [128]
  --packets P                stop after P packets per allocation (smoke runs)
  --warmup S / --duration S  seconds before / of the measurement              [1 / 3]
  --hold S                   alloc/unauth: seconds before reading memory;     [1]
                             hold: seconds to hold the allocations
  --refresh S                hold: Refresh interval per allocation            [60]
  --threads T                client threads                                   [1]
  --concurrency C            allocation set-ups in flight                     [64]
  --tick-us U                paced senders wake at most every U microseconds  [200]
  --loss-timeout-ms T        a packet not back after T ms frees its window slot [50]
  --server-pid PID           sample this process: CPU (/proc/PID/stat), RSS, socket drops
  --max-loss F               exit 1 when the loss fraction exceeds F
  --no-gso                   the generator's own sends do not use UDP GSO
  --json                     print only the RESULT line
)";

bool number(const char* s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s, &end);
  return end && *end == 0 && end != s;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  o.server = *turnpike::core::SocketAddress::parse("127.0.0.1:3478");
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (a == "--no-gso") {
      o.gso = false;
      continue;
    }
    if (a == "--json") {
      o.json_only = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "turnpike-loadgen: %s needs a value\n%s", argv[i], kUsage);
      return std::nullopt;
    }
    const char* v = argv[++i];
    double d = 0;
    bool ok = true;
    if (a == "--mode") {
      const std::string_view m = v;
      if (m == "relay")
        o.mode = Mode::Relay;
      else if (m == "alloc")
        o.mode = Mode::Alloc;
      else if (m == "unauth")
        o.mode = Mode::Unauth;
      else if (m == "hold")
        o.mode = Mode::Hold;
      else
        ok = false;
    } else if (a == "--server") {
      auto s = turnpike::core::SocketAddress::parse(v);
      ok = s.has_value();
      if (ok) o.server = *s;
    } else if (a == "--secret") {
      o.secret = v;
    } else if (a == "--user") {
      o.user = v;
    } else if (a == "--peer-ip") {
      o.peer_ip = v;
    } else if (a == "--client-netns") {
      o.client_netns = v;
    } else if (a == "--peer-netns") {
      o.peer_netns = v;
    } else if (a == "--account") {
      o.account.push_back(v);
    } else if (a == "--client-prefix") {
      unsigned x = 0, y = 0;
      char tail = 0;
      ok = std::sscanf(v, "%u.%u%c", &x, &y, &tail) == 2 && x > 0 && x < 224 && y < 256;
      if (ok) o.client_prefix = (x << 24) | (y << 16);
    } else if (!number(v, &d) || d < 0) {
      ok = false;
    } else if (a == "--allocations") {
      o.allocations = unsigned(d);
    } else if (a == "--peers") {
      o.peers = unsigned(d);
    } else if (a == "--client-ips") {
      o.client_ips = unsigned(d);
    } else if (a == "--client-net") {
      o.client_net = unsigned(d);
      ok = d >= 1 && d <= 254;
    } else if (a == "--size") {
      o.size = unsigned(d);
    } else if (a == "--rate") {
      o.rate = d;
    } else if (a == "--window") {
      o.window = unsigned(d);
    } else if (a == "--packets") {
      o.packets = uint64_t(d);
    } else if (a == "--warmup") {
      o.warmup_s = d;
    } else if (a == "--duration") {
      o.duration_s = d;
    } else if (a == "--hold") {
      o.hold_s = d;
    } else if (a == "--refresh") {
      o.refresh_s = d;
      ok = d > 0;
    } else if (a == "--threads") {
      o.threads = unsigned(d);
    } else if (a == "--concurrency") {
      o.concurrency = unsigned(d);
    } else if (a == "--tick-us") {
      o.tick_us = unsigned(d);
    } else if (a == "--loss-timeout-ms") {
      o.loss_timeout_ms = unsigned(d);
    } else if (a == "--server-pid") {
      o.server_pid = pid_t(d);
    } else if (a == "--max-loss") {
      o.max_loss = d;
    } else {
      std::fprintf(stderr, "turnpike-loadgen: unknown option %s\n%s", argv[i - 1], kUsage);
      return std::nullopt;
    }
    if (!ok) {
      std::fprintf(stderr, "turnpike-loadgen: bad value for %s: %s\n", argv[i - 1], v);
      return std::nullopt;
    }
  }
  if (o.allocations == 0 || o.peers == 0 || o.threads == 0 || o.client_ips == 0 ||
      o.concurrency == 0) {
    std::fprintf(stderr, "turnpike-loadgen: counts must be at least 1\n");
    return std::nullopt;
  }
  if (o.size < 24 || o.size > 1400) {
    std::fprintf(stderr,
                 "turnpike-loadgen: --size must be 24..1400 bytes (the probe header is 24)\n");
    return std::nullopt;
  }
  if (!o.peer_netns.empty() && o.client_netns.empty()) {
    std::fprintf(stderr, "turnpike-loadgen: --peer-netns needs --client-netns too\n");
    return std::nullopt;
  }
  if (o.rate == 0 && o.window == 0) {
    std::fprintf(stderr, "turnpike-loadgen: flat out needs --window >= 1\n");
    return std::nullopt;
  }
  if (o.threads > o.allocations) o.threads = o.allocations;
  return o;
}

}  // namespace bench
