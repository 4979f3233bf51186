// CONNECTION-IDs (RFC 6062 §6.2.1) of the whole process, and which worker owns each.
//
// Why a process-wide table: a ConnectionBind (RFC 6062 §5.4) arrives on a NEW TCP or TLS
// connection from the client, and SO_REUSEPORT may hand that connection to any worker, not
// necessarily the one that owns the allocation and its peer connection. The worker that gets the
// ConnectionBind looks the id up here; when another worker owns it, the network layer moves the
// client connection (its socket, TLS state and unread bytes) to that worker through the worker's
// mailbox, and the owner handles the ConnectionBind as if it had arrived there. Nothing is
// relayed before that, and from then on the pair lives in one worker with no lock on its path.
//
// The table only routes: the state of a connection (peer, permission, timers, counters) stays in
// the owning worker's relay::Server. Ids are entered when a peer connection is created (Connect,
// or a peer connecting to a relayed address) and removed when it is bound or closed, so the table
// holds only connections waiting for their ConnectionBind (at most 30 s each), and it is touched
// only then, never per relayed byte: a mutex is fine.
//
// Ids come from the core::Random it is given, in the daemon the CSPRNG (core/random.h): a client
// cannot guess another client's pending id (and would still need the allocation's credentials:
// RFC 6062 §5.4, 441). Tests may give a core::SeededRandom; it is used under the lock only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/random.h"
#include "relay/types.h"

namespace turnpike::relay {

class ConnectionIds {
 public:
  explicit ConnectionIds(core::Random& random = core::system_random()) : random_(random) {}

  struct Entry {
    uint8_t worker = 0;     // the worker that owns the id
    SocketAddress control;  // the client side of the allocation's control connection
  };

  // A fresh id owned by `worker` for the allocation of control connection `control`:
  // unpredictable, never 0, unique among the ids in the table.
  uint32_t issue(uint8_t worker, const SocketAddress& control);
  std::optional<Entry> find(uint32_t id) const;
  std::optional<uint8_t> owner(uint32_t id) const {
    auto e = find(id);
    return e ? std::optional<uint8_t>(e->worker) : std::nullopt;
  }
  void release(uint32_t id);
  size_t size() const;

 private:
  core::Random& random_;
  mutable std::mutex mu_;
  std::unordered_map<uint32_t, Entry> entries_;
};

}  // namespace turnpike::relay
