// What the load generator reads about a process (the server under test, or itself) from /proc:
// CPU time of the whole process (utime + stime of /proc/PID/stat, so every thread is counted,
// including the kernel work done in its context such as loopback delivery of what it sends),
// resident memory, per-thread CPU (to tell which side is saturated) and the drops counted on its
// UDP sockets (/proc/net/udp "drops" column).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>

namespace bench {

struct ProcSample {
  bool ok = false;
  int64_t t_ns = 0;
  double cpu_s = 0;                    // utime + stime, seconds
  uint64_t rss_kb = 0;                 // VmRSS
  std::map<long, uint64_t> thread_ns;  // tid -> time on CPU (schedstat), nanoseconds
};

ProcSample sample_process(pid_t pid);

// Busiest thread's share of one CPU between two samples (0..1).
double busiest_thread(const ProcSample& a, const ProcSample& b);

// Sum of the "drops" column of /proc/net/udp{,6} over the UDP sockets `pid` has open.
uint64_t udp_socket_drops(pid_t pid);

// Whole machine: busy share of all CPUs between two samples (/proc/stat).
struct MachineSample {
  uint64_t busy = 0, total = 0;
  uint64_t udp_rcvbuf_errors = 0, udp_sndbuf_errors = 0;  // /proc/net/snmp
};
MachineSample sample_machine();
double machine_busy(const MachineSample& a, const MachineSample& b);

}  // namespace bench
