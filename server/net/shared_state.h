// What all workers share, read-only after start (except the thread-safe quota book and port
// reservations).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/dtls_cookie.h"
#include "core/random.h"
#include "core/stateless_nonce.h"
#include "net/connection_limits.h"
#include "net/relay_ports.h"
#include "net/stream_settings.h"
#include "relay/connection_ids.h"
#include "relay/peer_policy.h"
#include "relay/quota.h"
#include "relay/settings.h"

namespace turnpike::net {

class Worker;

struct SharedState {
  SharedState(relay::Settings s, relay::PeerPolicy p, const std::array<uint8_t, 32>& nonce_key,
              unsigned user_quota, unsigned total_quota, uint16_t min_port, uint16_t max_port)
      : settings(std::move(s)),
        policy(std::move(p)),
        nonces(nonce_key),
        quotas(user_quota, total_quota),
        ports(min_port, max_port) {}

  const relay::Settings settings;
  const relay::PeerPolicy policy;
  const core::NonceCodec nonces;
  relay::QuotaBook quotas;
  RelayPorts ports;
  // RFC 6062 CONNECTION-IDs waiting for their ConnectionBind, and the worker owning each.
  relay::ConnectionIds connection_ids;
  // Every worker, by index (relay worker id - 1): where a ConnectionBind's connection moves to.
  // Set before the workers start, read-only after.
  std::vector<Worker*> workers;

  // TCP, TLS and DTLS clients (set before the workers start, read-only after).
  StreamSettings streams;
  ConnectionLimits connections;
  // RFC 6347 §4.2.1: the DTLS cookie key, random per process.
  const core::DtlsCookie dtls_cookie{random_key()};

 private:
  static std::array<uint8_t, core::DtlsCookie::kKeySize> random_key() {
    std::array<uint8_t, core::DtlsCookie::kKeySize> k;
    core::random_bytes(k.data(), k.size());
    return k;
  }
};

}  // namespace turnpike::net
