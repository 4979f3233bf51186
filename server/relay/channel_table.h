// An allocation's channel bindings (RFC 8656 §12), found both ways in constant time: by number
// (ChannelData from the client) and by peer transport address (a peer's datagram, relayed as
// ChannelData when a channel is bound to it). Two keyed open-addressed tables
// (relay/open_table.h): the channels by number, and an index from peer to number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "relay/open_table.h"
#include "relay/types.h"

namespace turnpike::relay {

// RFC 8656 §12: a channel binds a number to a peer transport address. After it expires the pair
// stays reserved for another 5 minutes (kChannelCoolingMs): neither may be rebound elsewhere.
struct Channel {
  uint16_t number = 0;
  SocketAddress peer;
  int64_t expires_ms = 0;
  uint32_t offload = 0;  // ChannelOffload handle while the kernel relays it (relay/offload.h)
};
constexpr int64_t kChannelCoolingMs = 300'000;

class ChannelTable {
 public:
  void set_hash_key(const HashKey* k) {
    by_number_.set_hash_key(k);
    by_peer_.set_hash_key(k);
  }
  size_t size() const { return by_number_.size(); }
  bool empty() const { return by_number_.empty(); }
  size_t bytes() const { return by_number_.bytes() + by_peer_.bytes(); }

  Channel* find(uint16_t number) { return by_number_.find(number); }
  Channel* find(const SocketAddress& peer) {
    const PeerNumber* p = by_peer_.find(peer);
    return p ? by_number_.find(p->number) : nullptr;
  }
  // Adds `c`: neither its number nor its peer may be bound already (RFC 8656 §12.2 makes the
  // caller check both). Null only past OpenTable::kMaxCapacity.
  Channel* insert(const Channel& c) {
    if (!by_peer_.insert(PeerNumber{c.peer, c.number})) return nullptr;
    Channel* in = by_number_.insert(c);
    if (!in) by_peer_.erase(c.peer);
    return in;
  }
  bool erase(uint16_t number) {
    Channel* c = by_number_.find(number);
    if (!c) return false;
    by_peer_.erase(c->peer);
    return by_number_.erase(number);
  }
  // As OpenTable::erase_if: `pred` may see a kept channel twice.
  template <typename Pred>
  size_t erase_if(Pred&& pred) {
    return by_number_.erase_if([&](Channel& c) {
      if (!pred(c)) return false;
      by_peer_.erase(c.peer);
      return true;
    });
  }
  template <typename F>
  void for_each(F&& f) {
    by_number_.for_each(std::forward<F>(f));
  }
  template <typename F>
  void for_each(F&& f) const {
    by_number_.for_each(std::forward<F>(f));
  }

 private:
  struct ChannelNumber {
    using Key = uint16_t;
    static const uint16_t& key(const Channel& c) { return c.number; }
  };
  struct PeerNumber {
    SocketAddress peer;
    uint16_t number = 0;
  };
  struct PeerOf {
    using Key = SocketAddress;
    static const SocketAddress& key(const PeerNumber& p) { return p.peer; }
  };
  OpenTable<Channel, ChannelNumber> by_number_;
  OpenTable<PeerNumber, PeerOf> by_peer_;
};

}  // namespace turnpike::relay
