// Machine-wide CPU accounting over the measured window (issue 13's benchmark): eBPF and softirq
// work is not charged to the server process, so the relay's cost is what the whole machine spent
// (/proc/stat, every CPU, softirq included) minus what the generator, its echo peers and every
// other user process on the shared machine spent by themselves.
//
// With tick-based accounting (this kernel: no IRQ_TIME_ACCOUNTING) softirq work is charged to
// whichever task the tick interrupts, so a sender's stime can hold the receive path of another
// namespace. The benchmark topology runs each veth end's receive work in its own threaded-NAPI
// kernel thread (offload_topology fast_veth), so the kernel threads serving the relay namespace
// can be named (group "relay") and those serving the client and peer namespaces ("generator").
#pragma once

#include <sys/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace bench {

struct CpuAccountSample {
  double machine_busy_s = 0;  // all CPUs: user+nice+system+irq+softirq (+steal excluded)
  double machine_softirq_s = 0;
  double machine_total_s = 0;
  std::map<std::string, double> group_s;  // label -> utime+stime of its pids (ticks, as /proc/stat)
  std::map<std::string, double> group_run_s;  // label -> time on CPU of their threads (schedstat,
                                              // nanosecond-exact; softirq run in them included)
  double other_user_s = 0;    // every other user-space process: utime+stime+cutime+cstime
  double other_kernel_s = 0;  // every other kernel thread (ksoftirqd, kworker, ...)
};

class CpuAccount {
 public:
  // "LABEL=PID,PID,..." (repeatable). The load generator itself is always group "self".
  bool add_group(const std::string& spec, std::string* error);
  bool empty() const { return groups_.empty(); }
  CpuAccountSample sample() const;

 private:
  std::vector<std::pair<std::string, std::vector<pid_t>>> groups_;
};

}  // namespace bench
