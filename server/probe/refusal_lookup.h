// On the relay host (`probe --config FILE`): the ledger's reason for refusing one of the probe's
// requests. The relay records every refusal with the client's address as it saw it (the mapped
// address of a Binding over the same socket), so the probe finds its own attempt among them and
// can say "expired credential", "wrong secret", "quota" or "forbidden peer" instead of only "401".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/socket_address.h"
#include "ledger/ledger_queries.h"

namespace turnpike::probe {

class RefusalLookup {
 public:
  RefusalLookup() = default;  // no ledger: find() says so
  RefusalLookup(std::string ledger_path, int64_t since_unix_ms)
      : path_(std::move(ledger_path)), since_ms_(since_unix_ms) {}

  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

  // The refusal of `method` ("Allocate", ...) from `client` as `username` that happened at
  // `attempt_ms` (unix ms) or later, waiting up to `wait` for the relay's ledger writer (it
  // commits every half second). The ledger folds identical refusals from one address (same
  // reason and user, whatever the port) into one row whose last_at moves on, so that is what is
  // matched. std::nullopt with `error` when there is none or the ledger cannot be read.
  std::optional<ledger::RefusalRow> find(const core::SocketAddress& client, const std::string& method,
                                         const std::string& username, int64_t attempt_ms,
                                         std::chrono::milliseconds wait, std::string* error) const;

 private:
  std::string path_;
  int64_t since_ms_ = 0;
};

}  // namespace turnpike::probe
