// The data plane of the load generator: one thread ("shard") per group of sessions sends
// ChannelData (RFC 8656 §12.4) through the server to the echo peers and times what comes back.
//
// Two ways to send:
//   paced    --rate R: every session sends R packets/s, the sessions of a shard evenly spread
//            in time (audio/video-like); the shard wakes at most every --tick-us.
//   windowed --rate 0: every session keeps --window packets in flight and sends a new one when
//            one comes back or is given up (--loss-timeout-ms): as fast as the path allows,
//            without an open-loop flood that would only measure who wins the CPU.
// Every probe carries (session, sequence, send time); the round trip is timed on return.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "loadgen/histogram.h"
#include "loadgen/options.h"
#include "loadgen/session.h"

namespace bench {

enum Phase : int { kWarmup = 0, kMeasure = 1, kDrain = 2, kExit = 3 };

class Shard {
 public:
  Shard(std::vector<Session*> sessions, const Options& o, const std::atomic<int>& phase);
  ~Shard();
  void start();
  void join();

  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  uint64_t send_errors() const { return send_errors_.load(std::memory_order_relaxed); }
  uint64_t behind() const {
    return behind_.load(std::memory_order_relaxed);
  }  // paced sends skipped
  bool finished_sending() const { return finished_.load(std::memory_order_relaxed); }
  uint64_t drops() const;                        // drops in the shard's socket receive buffers
  const Histogram& rtt() const { return rtt_; }  // read after join()
  uint64_t gso_fallbacks() const { return gso_ ? 0 : 1; }

 private:
  struct Flow;
  void run();
  void send_paced(int64_t now);
  void send_windowed(int64_t now);
  void expire(int64_t now);
  void receive(unsigned flow);
  void write_probe(uint8_t* p, unsigned flow, uint64_t seq, int64_t t);
  void send_batch(Flow& f, unsigned count, int64_t now);

  std::vector<Session*> sessions_;
  std::vector<Flow> flows_;
  const Options& o_;
  const std::atomic<int>& phase_;
  std::thread thread_;
  bool gso_;
  int ep_ = -1;
  size_t packet_size_;
  size_t max_batch_;
  std::vector<uint8_t> send_buf_;
  std::vector<uint8_t> recv_buf_;
  Histogram rtt_;
  int64_t next_due_ = 0;
  size_t cursor_ = 0;
  int64_t interval_ns_ = 0;
  std::atomic<uint64_t> sent_{0}, received_{0}, send_errors_{0}, behind_{0};
  std::atomic<bool> finished_{false};
};

}  // namespace bench
