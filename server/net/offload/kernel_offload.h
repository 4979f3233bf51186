// The kernel fast path's loader (DESIGN.md "Kernel fast path"): loads the TC program and its maps
// (a bpftool skeleton of channel_relay.bpf.c), attaches it to the interfaces, maps the flow array
// into memory, and takes all of it down again. One per process, created before privileges are
// dropped and shared by the workers, each of which owns a range of flow slots (FlowTable).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/offload/flow_layout.h"

namespace turnpike::net {

enum class OffloadMode : uint8_t { Off, Auto, On };

struct OffloadOptions {
  OffloadMode mode = OffloadMode::Auto;
  std::vector<std::string> interfaces;  // empty: every Ethernet interface that is up
  uint32_t flows = 32768;               // channel bindings the kernel can hold at once
  bool attach = true;  // false: loaded, attached nowhere (its unit tests run it on test packets)
};

class KernelOffload {
 public:
  using Stats = std::array<uint64_t, TP_STAT_COUNT>;

  // Loads the program and attaches it. Null when it cannot, with `why` saying what stopped it
  // (for the notice or the error the caller gives: a missing capability, the verifier's
  // refusal, no interface to attach to, ...).
  static std::unique_ptr<KernelOffload> load(const OffloadOptions& o, std::string* why);
  ~KernelOffload();
  KernelOffload(const KernelOffload&) = delete;
  KernelOffload& operator=(const KernelOffload&) = delete;

  uint32_t capacity() const;
  // The flow array, memory-mapped: slot i is flows()[i].
  tp_flow* flows() const;
  int client_index_fd() const;
  int peer_index_fd() const;
  int program_fd() const;
  // Tells the program the daemon is alive (CLOCK_MONOTONIC now); it stops relaying when this is
  // more than TP_HEARTBEAT_NS old. Thread-safe.
  void heartbeat();
  // The program's counters (flow_layout.h tp_stat), summed over the CPUs.
  Stats stats() const;
  // "tcx on eth0, eth1": how and where it is attached.
  const std::string& description() const;
  // The capabilities the process must keep to go on (CAP_* numbers): CAP_BPF on kernels that
  // check it on every map update (before 6.5 with unprivileged BPF disabled, as Debian has it),
  // CAP_NET_ADMIN to detach cls_bpf filters at exit (TCX links need nothing). Tried, not
  // guessed: the calling thread drops its effective capabilities for one map lookup.
  std::vector<unsigned> needed_capabilities() const;

 private:
  struct Impl;
  explicit KernelOffload(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The monotonic clock the program's bpf_ktime_get_ns() reads, in nanoseconds.
uint64_t monotonic_ns();

}  // namespace turnpike::net
