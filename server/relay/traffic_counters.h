// Bytes and packets relayed one way.
#pragma once

#include <cstddef>
#include <cstdint>

namespace turnpike::relay {

struct TrafficCounters {
  uint64_t bytes = 0;
  uint64_t packets = 0;
  void add(size_t n) {
    bytes += n;
    ++packets;
  }
  void add(const TrafficCounters& o) {
    bytes += o.bytes;
    packets += o.packets;
  }
};

}  // namespace turnpike::relay
