#include "probe/refusal_lookup.h"

#include <algorithm>
#include <thread>

#include "ledger/sqlite_db.h"

namespace turnpike::probe {

std::optional<ledger::RefusalRow> RefusalLookup::find(const core::SocketAddress& client,
                                                      const std::string& method,
                                                      const std::string& username,
                                                      int64_t attempt_ms,
                                                      std::chrono::milliseconds wait,
                                                      std::string* error) const {
  if (path_.empty()) {
    *error = "no ledger (run the probe on the relay host with --config FILE to read the relay's reason)";
    return std::nullopt;
  }
  const auto give_up = std::chrono::steady_clock::now() + wait;
  const std::string ip = client.ip().to_string();
  for (;;) {
    std::string err;
    auto db = ledger::Database::open(path_, ledger::Database::Mode::ReadOnly, 2000, &err);
    if (!db) {
      *error = "cannot read the ledger " + path_ + ": " + err;
      return std::nullopt;
    }
    // Ledger times are the relay's clock; this host's may differ by a little (same host: not).
    const int64_t from = std::max(since_ms_, attempt_ms - 1000);
    for (auto& r : ledger::query_refusals(*db, from, 200)) {
      if (r.client_ip == ip && r.method == method && (username.empty() || r.username == username)) {
        return r;
      }
    }
    if (std::chrono::steady_clock::now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  *error = "the ledger " + path_ + " has no refusal of this " + method + " from " +
           client.ip().to_string() + " (is it this relay's ledger? it writes at most a few new "
           "refusal rows a second)";
  return std::nullopt;
}

}  // namespace turnpike::probe
