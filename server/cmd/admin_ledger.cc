// turnpike-admin sessions | refusals | who | stats: what the ledger knows, as tables for people
// and JSON for scripts. Read-only connections: safe while the relay and Prosody are writing.
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <ctime>
#include <iostream>

#include "cmd/admin_args.h"
#include "cmd/admin_commands.h"
#include "cmd/admin_format.h"
#include "config/config_parser.h"
#include "core/json_value.h"
#include "ledger/check_log.h"
#include "ledger/ledger_event.h"
#include "ledger/ledger_queries.h"
#include "ledger/migrations.h"

namespace turnpike::cmd {
namespace {

constexpr const char* kDefaultConfig = "/etc/turnpike/turnpike.conf";

int64_t now_ms() {
  return int64_t(std::time(nullptr)) * 1000;
}

// The ledger file: --ledger PATH, else the ledger= of -c FILE (or the default config), else
// the built-in default.
std::optional<std::string> ledger_path(const AdminArgs& a, std::string* error) {
  if (auto p = a.get("ledger")) return *p;
  std::string file = a.get("config").value_or("");
  struct stat st {};
  if (file.empty() && ::stat(kDefaultConfig, &st) == 0) file = kDefaultConfig;
  config::Config cfg;
  if (!file.empty()) {
    if (auto err = config::parse_config_file(file, cfg)) {
      *error = err->to_string();
      return std::nullopt;
    }
    if (cfg.no_ledger) {
      *error = file + " says no-ledger: there is no ledger to read";
      return std::nullopt;
    }
  }
  return cfg.ledger;
}

std::optional<ledger::Database> open_ledger(const AdminArgs& a) {
  std::string err;
  auto path = ledger_path(a, &err);
  if (!path) {
    std::cerr << "turnpike-admin: " << err << "\n";
    return std::nullopt;
  }
  struct stat st {};
  if (::stat(path->c_str(), &st) != 0) {
    std::cerr << "turnpike-admin: no ledger at " << *path
              << " (has turnpike run with this config? give --ledger PATH or -c FILE)\n";
    return std::nullopt;
  }
  auto db = ledger::Database::open(*path, ledger::Database::Mode::ReadOnly, 5000, &err);
  if (!db) {
    std::cerr << "turnpike-admin: " << err << "\n";
    return std::nullopt;
  }
  if (ledger::schema_version(*db) <= 0) {
    // A file the relay has only just created has no tables yet: that is an empty ledger. A
    // file with other tables is something else.
    ledger::Statement tables = db->prepare("SELECT count(*) FROM sqlite_master");
    if (!tables || tables.step() != SQLITE_ROW || tables.int_at(0) != 0) {
      std::cerr << "turnpike-admin: " << *path
                << " is not a turnpike ledger (no schema_version table)\n";
      return std::nullopt;
    }
  }
  return db;
}

bool since_of(const AdminArgs& a, std::optional<int64_t>* out) {
  if (auto s = a.get("since")) {
    *out = parse_since(*s, now_ms());
    if (!*out) {
      std::cerr
          << "turnpike-admin: --since '" << *s
          << "' is not a time: write 2h, 7d, 2026-11-22, 2026-11-22T10:00:00Z or unix seconds\n";
      return false;
    }
  }
  return true;
}

std::string address(const std::string& ip, int64_t port) {
  if (ip.empty()) return "-";
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::string state_of(const ledger::SessionRow& s) {
  return s.ended_at ? s.end_reason : "active";
}

std::string relayed_of(const ledger::SessionRow& s) {
  std::string r = address(s.relay_ip, s.relay_port);
  if (!s.relay6_ip.empty()) r += "," + address(s.relay6_ip, s.relay6_port);
  return r;
}

void print_sessions_table(const std::vector<ledger::SessionRow>& rows,
                          const std::string& indent = "") {
  Table t({"STARTED (UTC)", "DURATION", "STATE", "USER", "TRANSPORT", "CLIENT", "RELAYED",
           "CLIENT->PEERS", "PEERS->CLIENT"});
  for (const auto& s : rows) {
    const int64_t end = s.ended_at.value_or(s.updated_at);
    t.add({format_time(s.started_at), format_duration(end - s.started_at), state_of(s), s.username,
           s.transport, address(s.client_ip, s.client_port), relayed_of(s),
           std::to_string(s.packets_from_client) + " pkts " + format_bytes(s.bytes_from_client),
           std::to_string(s.packets_to_client) + " pkts " + format_bytes(s.bytes_to_client)});
  }
  std::string text = t.str();
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    std::cout << indent << text.substr(pos, nl - pos) << "\n";
    pos = nl + 1;
  }
}

std::string session_json(ledger::Database& db, const ledger::SessionRow& s) {
  std::string j =
      "{\"node\":" + json_string(s.node) + ",\"session\":" + json_string(s.sid) +
      ",\"realm\":" + json_string(s.realm) + ",\"username\":" + json_string(s.username) +
      ",\"transport\":" + json_string(s.transport) + ",\"client_ip\":" + json_string(s.client_ip) +
      ",\"client_port\":" + std::to_string(s.client_port) +
      ",\"relay_ip\":" + (s.relay_ip.empty() ? "null" : json_string(s.relay_ip)) +
      ",\"relay_port\":" + (s.relay_ip.empty() ? "null" : std::to_string(s.relay_port));
  if (!s.relay6_ip.empty()) {
    j += ",\"relay6_ip\":" + json_string(s.relay6_ip) +
         ",\"relay6_port\":" + std::to_string(s.relay6_port);
  }
  j += ",\"started_at\":" + json_string(format_iso(s.started_at)) +
       ",\"started_ms\":" + std::to_string(s.started_at);
  j += ",\"ended_at\":" + (s.ended_at ? json_string(format_iso(*s.ended_at)) : "null");
  j += ",\"end_reason\":" + (s.ended_at ? json_string(s.end_reason) : "null");
  j += ",\"active\":" + std::string(s.ended_at ? "false" : "true");
  j += ",\"bytes_from_client\":" + std::to_string(s.bytes_from_client) +
       ",\"packets_from_client\":" + std::to_string(s.packets_from_client) +
       ",\"bytes_to_client\":" + std::to_string(s.bytes_to_client) +
       ",\"packets_to_client\":" + std::to_string(s.packets_to_client) + ",\"peers\":[";
  bool first = true;
  for (const auto& p : ledger::query_peers(db, s.id)) {
    j += (first ? "" : ",") + std::string("{\"peer\":") + json_string(p.peer_ip) +
         ",\"bytes_to_peer\":" + std::to_string(p.bytes_to_peer) +
         ",\"packets_to_peer\":" + std::to_string(p.packets_to_peer) +
         ",\"bytes_from_peer\":" + std::to_string(p.bytes_from_peer) +
         ",\"packets_from_peer\":" + std::to_string(p.packets_from_peer) + "}";
    first = false;
  }
  return j + "]}";
}

const std::set<std::string> kValueOptions = {"config", "ledger", "user", "since", "limit"};

// What every ledger command starts with: its arguments, --since, and the ledger opened.
struct LedgerCommand {
  AdminArgs args;
  std::optional<int64_t> since;
  std::optional<ledger::Database> db;
  int limit = 1000;
};

// std::nullopt (with the exit status in `exit_code`) when the command cannot run.
std::optional<LedgerCommand> start_command(int argc, char** argv, int* exit_code) {
  LedgerCommand c;
  c.args = AdminArgs::parse(argc, argv, 2, kValueOptions);
  *exit_code = 2;
  if (!c.args.error.empty()) {
    std::cerr << "turnpike-admin: " << c.args.error << "\n";
    return std::nullopt;
  }
  if (!since_of(c.args, &c.since)) return std::nullopt;
  if (auto l = c.args.get("limit")) c.limit = std::max(1, std::atoi(l->c_str()));
  *exit_code = 1;
  c.db = open_ledger(c.args);
  if (!c.db) return std::nullopt;
  return c;
}

}  // namespace

int admin_sessions(int argc, char** argv) {
  int status = 0;
  auto c = start_command(argc, argv, &status);
  if (!c) return status;
  const AdminArgs& a = c->args;
  auto& db = c->db;
  ledger::SessionFilter f;
  f.active_only = a.has("active");
  if (auto user = a.get("user")) f.usernames.push_back(*user);
  f.since_ms = c->since;
  f.limit = c->limit;
  const auto rows = ledger::query_sessions(*db, f);
  if (a.has("json")) {
    std::cout << "[";
    for (size_t i = 0; i < rows.size(); ++i)
      std::cout << (i ? ",\n" : "") << session_json(*db, rows[i]);
    std::cout << "]\n";
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no sessions" << (f.active_only ? " active" : "") << "\n";
    return 0;
  }
  print_sessions_table(rows);
  return 0;
}

int admin_refusals(int argc, char** argv) {
  int status = 0;
  auto c = start_command(argc, argv, &status);
  if (!c) return status;
  const AdminArgs& a = c->args;
  const auto rows = ledger::query_refusals(*c->db, c->since, c->limit);
  if (a.has("json")) {
    std::cout << "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      std::cout << (i ? ",\n" : "") << "{\"at\":" << json_string(format_iso(r.at))
                << ",\"last_at\":" << json_string(format_iso(r.last_at)) << ",\"count\":" << r.count
                << ",\"node\":" << json_string(r.node)
                << ",\"client_ip\":" << json_string(r.client_ip)
                << ",\"client_port\":" << r.client_port
                << ",\"transport\":" << json_string(r.transport)
                << ",\"method\":" << json_string(r.method) << ",\"code\":" << r.code
                << ",\"reason\":" << json_string(r.reason)
                << ",\"username\":" << json_string(r.username)
                << ",\"peer\":" << (r.peer.empty() ? "null" : json_string(r.peer))
                << ",\"detail\":" << json_string(r.detail) << "}";
    }
    std::cout << "]\n";
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no refusals\n";
    return 0;
  }
  Table t({"TIME (UTC)", "COUNT", "CLIENT", "VIA", "REQUEST", "CODE", "REASON", "USER", "PEER",
           "DETAIL"});
  for (const auto& r : rows) {
    t.add({format_time(r.at), std::to_string(r.count), address(r.client_ip, r.client_port),
           r.transport, r.method, r.code ? std::to_string(r.code) : "-", r.reason,
           r.username.empty() ? "-" : r.username, r.peer.empty() ? "-" : r.peer, r.detail});
  }
  std::cout << t.str();
  return 0;
}

int admin_who(int argc, char** argv) {
  if (AdminArgs::parse(argc, argv, 2, kValueOptions).positional.size() != 1) {
    std::cerr << "usage: turnpike-admin who JID|USERNAME [--json] [-c FILE | --ledger PATH]\n";
    return 2;
  }
  int status = 0;
  auto c = start_command(argc, argv, &status);
  if (!c) return status;
  const AdminArgs& a = c->args;
  auto& db = c->db;
  const std::string who = a.positional[0];
  const auto creds = ledger::query_credentials(*db, who);
  // The TURN usernames this person was given (or the one asked about), and their sessions.
  ledger::SessionFilter f;
  for (const auto& c : creds) f.usernames.push_back(c.username);
  if (creds.empty()) f.usernames.push_back(who);
  std::sort(f.usernames.begin(), f.usernames.end());
  f.usernames.erase(std::unique(f.usernames.begin(), f.usernames.end()), f.usernames.end());
  const auto sessions = ledger::query_sessions(*db, f);
  if (a.has("json")) {
    std::cout << "{\"query\":" << json_string(who) << ",\"credentials\":[";
    for (size_t i = 0; i < creds.size(); ++i) {
      const auto& c = creds[i];
      std::cout << (i ? "," : "") << "{\"issued_at\":" << json_string(format_iso(c.issued_at))
                << ",\"expires_at\":" << json_string(format_iso(c.expires_at))
                << ",\"host\":" << json_string(c.host) << ",\"jid\":" << json_string(c.jid)
                << ",\"username\":" << json_string(c.username) << "}";
    }
    std::cout << "],\"sessions\":[";
    for (size_t i = 0; i < sessions.size(); ++i)
      std::cout << (i ? ",\n" : "") << session_json(*db, sessions[i]);
    std::cout << "]}\n";
    return 0;
  }
  if (creds.empty() && sessions.empty()) {
    std::cout << "nothing known about " << escape_text(who)
              << ": no credential issued to it and no session with it\n";
    return 0;
  }
  for (const auto& c : creds) {
    std::cout << "credential " << escape_text(c.username) << " issued " << format_time(c.issued_at)
              << " UTC by " << escape_text(c.host) << " to " << escape_text(c.jid) << ", expires "
              << format_time(c.expires_at) << " UTC\n";
    std::vector<ledger::SessionRow> mine;
    for (const auto& s : sessions) {
      if (s.username == c.username) mine.push_back(s);
    }
    if (mine.empty()) {
      std::cout << "  no relay session used it\n";
    } else {
      print_sessions_table(mine, "  ");
    }
  }
  if (creds.empty()) print_sessions_table(sessions);
  return 0;
}

int admin_stats(int argc, char** argv) {
  int status = 0;
  auto c = start_command(argc, argv, &status);
  if (!c) return status;
  const AdminArgs& a = c->args;
  const auto t = ledger::query_totals(*c->db, c->since, 10);
  if (a.has("json")) {
    std::cout << "{\"sessions\":" << t.sessions << ",\"active\":" << t.active
              << ",\"bytes_from_client\":" << t.bytes_from_client
              << ",\"bytes_to_client\":" << t.bytes_to_client
              << ",\"credentials_issued\":" << t.credentials << ",\"top_users\":[";
    for (size_t i = 0; i < t.top_users.size(); ++i) {
      std::cout << (i ? "," : "") << "{\"username\":" << json_string(t.top_users[i].first)
                << ",\"bytes\":" << t.top_users[i].second << "}";
    }
    std::cout << "],\"refusals\":{";
    for (size_t i = 0; i < t.refusals_by_reason.size(); ++i) {
      std::cout << (i ? "," : "") << json_string(t.refusals_by_reason[i].first) << ":"
                << t.refusals_by_reason[i].second;
    }
    std::cout << "},\"ledger\":[";
    for (size_t i = 0; i < t.health.size(); ++i) {
      const auto& h = t.health[i];
      std::cout << (i ? "," : "") << "{\"node\":" << json_string(h.node)
                << ",\"updated_at\":" << json_string(format_iso(h.updated_at))
                << ",\"events_written\":" << h.written << ",\"events_dropped\":" << h.dropped
                << ",\"dropped_by_kind\":{";
      for (size_t k = 0; k < ledger::kEventKinds; ++k) {
        std::cout << (k ? "," : "") << '"' << ledger::event_kind_name(ledger::EventKind(k))
                  << "\":" << h.dropped_by_kind[k];
      }
      std::cout << "},\"refusals_folded\":" << h.folded
                << ",\"last_error\":" << (h.last_error.empty() ? "null" : json_string(h.last_error))
                << "}";
    }
    std::cout << "]}\n";
    return 0;
  }
  std::cout << "sessions:   " << t.sessions << " (" << t.active << " active)\n"
            << "relayed:    " << format_bytes(t.bytes_from_client) << " client->peers, "
            << format_bytes(t.bytes_to_client) << " peers->client\n"
            << "credentials issued: " << t.credentials << "\n";
  if (!t.top_users.empty()) {
    std::cout << "\ntop users:\n";
    Table u({"  USER", "BYTES"});
    for (const auto& [user, bytes] : t.top_users) u.add({"  " + user, format_bytes(bytes)});
    std::cout << u.str();
  }
  std::cout << "\nrefusals by reason:" << (t.refusals_by_reason.empty() ? " none\n" : "\n");
  for (const auto& [reason, n] : t.refusals_by_reason)
    std::cout << "  " << escape_text(reason) << ": " << n << "\n";
  for (const auto& h : t.health) {
    std::cout << "\nledger writer on " << escape_text(h.node) << " (as of "
              << format_time(h.updated_at) << " UTC): " << h.written << " events written, "
              << h.dropped << " dropped";
    std::string kinds;
    for (size_t k = 0; k < ledger::kEventKinds; ++k) {
      if (!h.dropped_by_kind[k]) continue;
      kinds += std::string(kinds.empty() ? "" : ", ") +
               ledger::event_kind_name(ledger::EventKind(k)) + " " +
               std::to_string(h.dropped_by_kind[k]);
    }
    if (!kinds.empty()) std::cout << " (" << kinds << ")";
    std::cout << ", " << h.folded << " refusals folded";
    if (!h.last_error.empty()) std::cout << "; last error: " << escape_text(h.last_error);
    std::cout << "\n";
  }
  return 0;
}

namespace {

// "udp blocked, tcp works 12 ms, tls works 14 ms" from a check's results (JSON the relay wrote).
std::string outcomes_of(const std::string& results) {
  std::string err;
  auto v = core::JsonValue::parse(results, &err);
  if (!v || !v->is(core::JsonValue::Kind::Array)) return results.empty() ? "-" : results;
  std::string out;
  for (const auto& r : v->array()) {
    std::string via = r.get_string("via").value_or("?");
    if (auto url = r.get_string("url")) {
      const size_t port = url->rfind(':', url->find('?'));
      if (port != std::string::npos) via += url->substr(port, url->find('?') - port);
    }
    const std::string outcome = r.get_string("outcome").value_or("?");
    std::string item = via + " " + (outcome == "no-relay-candidate" ? "blocked" : outcome);
    if (auto rtt = r.get_number("rtt_ms")) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " %.0f ms", *rtt);
      item += buf;
    }
    out += (out.empty() ? "" : ", ") + item;
  }
  return out.empty() ? "-" : out;
}

}  // namespace

int admin_checks(int argc, char** argv) {
  int status = 0;
  auto c = start_command(argc, argv, &status);
  if (!c) return status;
  const auto rows = ledger::query_checks(*c->db, c->since, c->limit);
  if (c->args.has("json")) {
    std::cout << "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      std::cout << (i ? ",\n" : "") << "{\"id\":" << json_string(r.id) << ",\"node\":" << json_string(r.node)
                << ",\"note\":" << json_string(r.note)
                << ",\"opened_at\":" << json_string(format_iso(r.opened_at))
                << ",\"expires_at\":" << json_string(format_iso(r.expires_at))
                << ",\"finished_at\":" << (r.finished_at ? json_string(format_iso(*r.finished_at)) : "null")
                << ",\"client_ip\":" << json_string(r.client_ip)
                << ",\"user_agent\":" << json_string(r.user_agent)
                << ",\"turn_username\":" << json_string(r.turn_username)
                << ",\"verdict\":" << (r.finished_at ? json_string(r.verdict) : "null")
                << ",\"results\":" << (r.results.empty() ? "[]" : r.results) << "}";
    }
    std::cout << "]\n";
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no checks: make a link with turnpike-admin check-link and send it to the user\n";
    return 0;
  }
  for (const auto& r : rows) {
    std::cout << format_time(r.opened_at) << " UTC  check " << r.id
              << (r.note.empty() ? "" : " (" + r.note + ")") << " from " << r.client_ip << "\n"
              << "  " << (r.finished_at ? r.verdict : "no result yet (the page is still running, or was closed)")
              << "\n";
    if (r.finished_at) std::cout << "  " << outcomes_of(r.results) << "\n";
    if (!r.user_agent.empty()) std::cout << "  " << r.user_agent << "\n";
  }
  return 0;
}

}  // namespace turnpike::cmd
