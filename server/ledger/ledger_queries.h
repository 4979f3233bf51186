// Reading the ledger, for turnpike-admin: read-only connections, so they work while the relay
// and Prosody write.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ledger/ledger_event.h"
#include "ledger/sqlite_db.h"

namespace turnpike::ledger {

struct SessionRow {
  int64_t id = 0;
  std::string node, sid, realm, username, transport, client_ip, relay_ip, relay6_ip, end_reason;
  int64_t client_port = 0, relay_port = 0, relay6_port = 0;
  int64_t started_at = 0, updated_at = 0;
  std::optional<int64_t> ended_at;
  int64_t bytes_from_client = 0, packets_from_client = 0, bytes_to_client = 0,
          packets_to_client = 0;
};

struct PeerRow {
  std::string peer_ip;
  int64_t bytes_to_peer = 0, packets_to_peer = 0, bytes_from_peer = 0, packets_from_peer = 0;
};

struct RefusalRow {
  int64_t at = 0, last_at = 0, count = 0, code = 0, client_port = 0;
  std::string node, client_ip, transport, method, reason, username, peer, detail;
};

struct CredentialRow {
  int64_t issued_at = 0, expires_at = 0;
  std::string host, jid, username;
};

struct SessionFilter {
  bool active_only = false;
  std::vector<std::string> usernames;  // any of these; empty: every user
  std::optional<int64_t> since_ms;
  int limit = 1000;
};

std::vector<SessionRow> query_sessions(Database& db, const SessionFilter& f);
std::vector<PeerRow> query_peers(Database& db, int64_t session_id);
std::vector<RefusalRow> query_refusals(Database& db, std::optional<int64_t> since_ms, int limit);
// Credentials issued to a JID (bare or full; a bare JID matches every resource) or with this
// TURN username.
std::vector<CredentialRow> query_credentials(Database& db, const std::string& jid_or_username);

struct Totals {
  int64_t sessions = 0, active = 0, bytes_from_client = 0, bytes_to_client = 0, credentials = 0;
  std::vector<std::pair<std::string, int64_t>> top_users;  // username, bytes both ways
  std::vector<std::pair<std::string, int64_t>> refusals_by_reason;
  struct Health {
    std::string node, last_error;
    int64_t updated_at = 0, written = 0, dropped = 0, folded = 0;
    // Dropped by kind of event, indexed by EventKind (schema 2; zeros in an older file).
    std::array<int64_t, kEventKinds> dropped_by_kind{};
  };
  std::vector<Health> health;
};
Totals query_totals(Database& db, std::optional<int64_t> since_ms, int top);

}  // namespace turnpike::ledger
