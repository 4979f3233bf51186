#include "ledger/ledger_queries.h"

#include <cstddef>
#include <memory>

#include "ledger/migrations.h"

namespace turnpike::ledger {
namespace {

SessionRow read_session(Statement& s) {
  SessionRow r;
  r.id = s.int_at(0);
  r.node = s.text_at(1);
  r.sid = s.text_at(2);
  r.realm = s.text_at(3);
  r.username = s.text_at(4);
  r.transport = s.text_at(5);
  r.client_ip = s.text_at(6);
  r.client_port = s.int_at(7);
  r.relay_ip = s.text_at(8);
  r.relay_port = s.int_at(9);
  r.relay6_ip = s.text_at(10);
  r.relay6_port = s.int_at(11);
  r.started_at = s.int_at(12);
  r.updated_at = s.int_at(13);
  if (!s.is_null(14)) r.ended_at = s.int_at(14);
  r.end_reason = s.text_at(15);
  r.bytes_from_client = s.int_at(16);
  r.packets_from_client = s.int_at(17);
  r.bytes_to_client = s.int_at(18);
  r.packets_to_client = s.int_at(19);
  return r;
}

}  // namespace

std::vector<SessionRow> query_sessions(Database& db, const SessionFilter& f) {
  std::string sql =
      "SELECT id, node, sid, realm, username, transport, client_ip, client_port, relay_ip, "
      "relay_port,"
      " relay6_ip, relay6_port, started_at, updated_at, ended_at, end_reason, bytes_from_client,"
      " packets_from_client, bytes_to_client, packets_to_client FROM sessions WHERE 1";
  if (f.active_only) sql += " AND ended_at IS NULL";
  if (f.since_ms) sql += " AND coalesce(ended_at, updated_at) >= ?2";
  if (!f.usernames.empty()) {
    sql += " AND username IN (";
    for (size_t i = 0; i < f.usernames.size(); ++i)
      sql += (i ? ",?" : "?") + std::to_string(10 + i);
    sql += ")";
  }
  sql += " ORDER BY id DESC LIMIT " + std::to_string(f.limit);  // row ids follow start order
  std::vector<SessionRow> out;
  Statement s = db.prepare(sql);
  if (!s) return out;
  if (f.since_ms) s.bind(2, *f.since_ms);
  for (size_t i = 0; i < f.usernames.size(); ++i) s.bind(int(10 + i), f.usernames[i]);
  while (s.step() == SQLITE_ROW) out.push_back(read_session(s));
  return out;
}

std::vector<PeerRow> query_peers(Database& db, int64_t session_id) {
  std::vector<PeerRow> out;
  Statement s = db.prepare(
      "SELECT peer_ip, bytes_to_peer, packets_to_peer, bytes_from_peer, packets_from_peer FROM "
      "session_peers"
      " WHERE session_id = ?1 ORDER BY bytes_to_peer + bytes_from_peer DESC");
  if (!s) return out;
  s.bind(1, session_id);
  while (s.step() == SQLITE_ROW) {
    out.push_back({s.text_at(0), s.int_at(1), s.int_at(2), s.int_at(3), s.int_at(4)});
  }
  return out;
}

std::vector<RefusalRow> query_refusals(Database& db, std::optional<int64_t> since_ms, int limit) {
  std::vector<RefusalRow> out;
  Statement s = db.prepare(
      "SELECT at, last_at, count, code, client_port, node, client_ip, transport, method, reason, "
      "username,"
      " coalesce(peer, ''), detail FROM refusals WHERE last_at >= ?1 ORDER BY at DESC, id DESC "
      "LIMIT ?2");
  if (!s) return out;
  s.bind(1, since_ms.value_or(0)).bind(2, int64_t(limit));
  while (s.step() == SQLITE_ROW) {
    RefusalRow r;
    r.at = s.int_at(0);
    r.last_at = s.int_at(1);
    r.count = s.int_at(2);
    r.code = s.int_at(3);
    r.client_port = s.int_at(4);
    r.node = s.text_at(5);
    r.client_ip = s.text_at(6);
    r.transport = s.text_at(7);
    r.method = s.text_at(8);
    r.reason = s.text_at(9);
    r.username = s.text_at(10);
    r.peer = s.text_at(11);
    r.detail = s.text_at(12);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<CredentialRow> query_credentials(Database& db, const std::string& who) {
  std::vector<CredentialRow> out;
  Statement s = db.prepare(
      "SELECT issued_at, expires_at, host, jid, username FROM credentials"
      " WHERE jid = ?1 OR jid LIKE ?2 ESCAPE '\\' OR username = ?1 ORDER BY issued_at DESC LIMIT "
      "1000");
  if (!s) return out;
  std::string like;
  for (char c : who) {
    if (c == '%' || c == '_' || c == '\\') like += '\\';
    like += c;
  }
  like += "/%";
  s.bind(1, who).bind(2, like);
  while (s.step() == SQLITE_ROW)
    out.push_back({s.int_at(0), s.int_at(1), s.text_at(2), s.text_at(3), s.text_at(4)});
  return out;
}

Totals query_totals(Database& db, std::optional<int64_t> since_ms, int top) {
  Totals t;
  const int64_t since = since_ms.value_or(0);
  Statement s = db.prepare(
      "SELECT count(*), sum(ended_at IS NULL), coalesce(sum(bytes_from_client), 0), "
      "coalesce(sum(bytes_to_client), 0)"
      " FROM sessions WHERE coalesce(ended_at, updated_at) >= ?1");
  if (s) {
    s.bind(1, since);
    if (s.step() == SQLITE_ROW) {
      t.sessions = s.int_at(0);
      t.active = s.int_at(1);
      t.bytes_from_client = s.int_at(2);
      t.bytes_to_client = s.int_at(3);
    }
  }
  Statement c = db.prepare("SELECT count(*) FROM credentials WHERE issued_at >= ?1");
  if (c) {
    c.bind(1, since);
    if (c.step() == SQLITE_ROW) t.credentials = c.int_at(0);
  }
  Statement u = db.prepare(
      "SELECT username, sum(bytes_from_client + bytes_to_client) AS b FROM sessions"
      " WHERE coalesce(ended_at, updated_at) >= ?1 GROUP BY username ORDER BY b DESC LIMIT ?2");
  if (u) {
    u.bind(1, since).bind(2, int64_t(top));
    while (u.step() == SQLITE_ROW) t.top_users.emplace_back(u.text_at(0), u.int_at(1));
  }
  Statement r = db.prepare(
      "SELECT reason, sum(count) AS n FROM refusals WHERE last_at >= ?1 GROUP BY reason ORDER BY n "
      "DESC");
  if (r) {
    r.bind(1, since);
    while (r.step() == SQLITE_ROW) t.refusals_by_reason.emplace_back(r.text_at(0), r.int_at(1));
  }
  // The columns by kind came with schema 2; a ledger not yet migrated by a newer relay has
  // only the total.
  const bool by_kind = schema_version(db) >= 2;
  Statement h = db.prepare(
      by_kind ? "SELECT node, coalesce(last_error, ''), updated_at, events_written, events_dropped,"
                " refusals_folded, dropped_starts, dropped_updates, dropped_ends, dropped_peers,"
                " dropped_refusals FROM ledger_health ORDER BY node"
              : "SELECT node, coalesce(last_error, ''), updated_at, events_written, events_dropped,"
                " refusals_folded FROM ledger_health ORDER BY node");
  if (h) {
    while (h.step() == SQLITE_ROW) {
      Totals::Health row{h.text_at(0), h.text_at(1), h.int_at(2), h.int_at(3), h.int_at(4),
                         h.int_at(5)};
      if (by_kind) {
        for (size_t k = 0; k < kEventKinds; ++k) row.dropped_by_kind[k] = h.int_at(6 + int(k));
      }
      t.health.push_back(std::move(row));
    }
  }
  return t;
}

}  // namespace turnpike::ledger
