// The M peers of the benchmark: UDP sockets that send every datagram back to where it came
// from (the allocation's relayed address), so the server relays it back to the client as
// ChannelData and the client can time the round trip. Batched both ways (recvmmsg, then
// GSO/sendmmsg), so the peers cost the machine as little as possible.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "core/socket_address.h"

namespace bench {

class EchoPeers {
 public:
  EchoPeers() = default;
  ~EchoPeers();
  // Binds `count` sockets on `ip` (ephemeral ports) and starts `threads` threads serving them.
  bool start(const std::string& ip, unsigned count, unsigned threads, bool gso, std::string* error);
  void stop();

  const std::vector<turnpike::core::SocketAddress>& addresses() const { return addresses_; }
  uint64_t received() const;
  uint64_t drops() const;  // datagrams dropped in the peers' own receive buffers

 private:
  void serve(unsigned thread);
  std::vector<int> fds_;
  std::vector<turnpike::core::SocketAddress> addresses_;
  std::vector<std::thread> threads_;
  unsigned thread_count_ = 1;
  bool gso_ = true;
  std::atomic<bool> stop_{false};
  struct alignas(64) Counter {
    std::atomic<uint64_t> v{0};
  };
  std::vector<Counter> received_;
};

}  // namespace bench
