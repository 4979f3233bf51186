#include "net/check_page.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "core/check_token.h"
#include "core/text_escape.h"
#include "core/utf8.h"
#include "core/json_value.h"
#include "core/random.h"
#include "core/rest_credentials.h"
#include "net/log.h"

namespace turnpike::net {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpResponse json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

HttpResponse refusal(int status, const std::string& why) {
  return json(status, "{\"error\":" + core::json_string(why) + "}");
}

// What a browser sent, as the one escaping rule shows it (no control or hidden character, valid
// UTF-8), cut on a character boundary to `max` bytes: it reaches the ledger, the log and
// turnpike-admin's terminal.
std::string clean(const std::string& s, size_t max) {
  std::string out = core::escape_text(s);
  out.resize(core::utf8_prefix(out, max));
  return out;
}

bool host_chars(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':';
  });
}

// The result outcomes the page may report (check.js uses the same words).
bool known_outcome(const std::string& o) {
  for (const char* k : {"works", "no-relay-candidate", "no-connection", "no-data", "error"}) {
    if (o == k) return true;
  }
  return false;
}

std::string token_problem(core::CheckTokenStatus s) {
  switch (s) {
    case core::CheckTokenStatus::Expired:
      return "this check link has expired: ask your admin for a new one";
    case core::CheckTokenStatus::Ok:
      return "";
    default:
      return "this is not a valid check link: ask your admin for a new one";
  }
}

}  // namespace

CheckPage::CheckPage(CheckPageOptions o)
    : o_(std::move(o)), limiter_(1, core::random_u64()) {
  if (o_.trusted_proxies.empty()) {
    o_.trusted_proxies.push_back(*core::IpRange::parse("127.0.0.0/8"));
    o_.trusted_proxies.push_back(*core::IpRange::parse("::1"));
  }
  if (!o_.ledger_path.empty()) log_.emplace(o_.ledger_path);
}

void CheckPage::install(HttpServer& server) {
  for (const CheckPageFile& f : check_page_files()) {
    const std::string path = o_.base + (std::string_view(f.name) == "index.html" ? "" : f.name);
    server.handle(path, [&f](const HttpRequest&) {
      HttpResponse r;
      r.content_type = f.content_type;
      r.body = f.body;
      // Nothing but this page's own files and API: no third-party resource can load.
      r.headers.push_back({"Content-Security-Policy",
                           "default-src 'none'; script-src 'self'; style-src 'self'; "
                           "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'"});
      r.headers.push_back({"X-Content-Type-Options", "nosniff"});
      r.headers.push_back({"Referrer-Policy", "no-referrer"});
      return r;
    });
  }
  server.handle(o_.base + "api/start", [this](const HttpRequest& r) { return start(r); }, true);
  server.handle(o_.base + "api/result", [this](const HttpRequest& r) { return result(r); }, true);
}

core::IpAddress CheckPage::client_of(const HttpRequest& r) const {
  core::IpAddress ip = r.peer.ip();
  const bool trusted = std::any_of(o_.trusted_proxies.begin(), o_.trusted_proxies.end(),
                                   [&](const core::IpRange& t) { return t.contains(ip); });
  if (trusted) {
    // X-Forwarded-For: the proxy appends the address it saw; the last one is its own peer.
    std::string xff = r.header("x-forwarded-for");
    const size_t comma = xff.rfind(',');
    if (comma != std::string::npos) xff = xff.substr(comma + 1);
    xff.erase(0, xff.find_first_not_of(' '));
    if (auto a = core::IpAddress::parse(xff)) ip = *a;
  }
  return ip;
}

std::string CheckPage::host_of(const HttpRequest& r) const {
  if (!o_.turn_host.empty()) return o_.turn_host;
  const bool trusted = std::any_of(o_.trusted_proxies.begin(), o_.trusted_proxies.end(),
                                   [&](const core::IpRange& t) { return t.contains(r.peer.ip()); });
  std::string host = trusted && !r.header("x-forwarded-host").empty() ? r.header("x-forwarded-host")
                                                                      : r.header("host");
  // "name:port", "[v6]:port", "name"
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    host = close == std::string::npos ? "" : host.substr(1, close - 1);
  } else if (const size_t colon = host.find(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  return host_chars(host) ? host : "";
}

std::optional<HttpResponse> CheckPage::begin(const HttpRequest& r, Call* c) {
  if (r.method != "POST") return refusal(405, "POST only");
  c->now = now_ms();
  c->client = client_of(r);
  if (!limiter_.allow(c->client, c->now)) return refusal(429, "too many requests: wait a moment");
  std::string err;
  auto body = core::JsonValue::parse(r.body, &err);
  if (!body) return refusal(400, "the request is not JSON: " + err);
  c->body = std::move(*body);
  const auto text = c->body.get_string("token");
  if (!text) return refusal(400, "the request has no token");
  c->token = core::verify_check_token(*text, o_.secrets, c->now / 1000);
  return std::nullopt;
}

HttpResponse CheckPage::start(const HttpRequest& r) {
  Call call;
  if (auto refused = begin(r, &call)) return *refused;
  const int64_t now = call.now;
  const core::IpAddress& client = call.client;
  std::string err;
  const core::CheckTokenResult& t = call.token;
  if (t.status != core::CheckTokenStatus::Ok) return refusal(403, token_problem(t.status));
  const std::string id = t.token.id_hex();
  const std::string host = host_of(r);
  if (host.empty()) return refusal(500, "the relay does not know its host name: set check-turn-host");
  if (o_.secrets.empty()) return refusal(503, "the relay has no static-auth-secret");

  // Single use: the first request that gets this far takes the link.
  if (claimed_.count(id)) return refusal(403, "this check link was used already: ask your admin for a new one");
  int64_t ttl = o_.credential_ttl;
  if (o_.max_credential_ttl > 0) ttl = std::min(ttl, o_.max_credential_ttl);
  const core::RestCredential cred = core::mint_rest_credential(
      o_.secrets.back(), "check-" + id, now / 1000, ttl, o_.separator);
  if (log_) {
    ledger::CheckRow row;
    row.id = id;
    row.node = o_.node;
    row.note = clean(t.token.note, core::kMaxCheckNoteBytes);
    row.expires_at = int64_t(t.token.expires) * 1000;
    row.opened_at = now;
    row.client_ip = client.to_string();
    row.user_agent = clean(r.header("user-agent"), 300);
    row.turn_username = cred.username;
    switch (log_->claim(row, &err)) {
      case ledger::CheckLog::Claim::AlreadyUsed:
        claimed_.insert(id);
        return refusal(403, "this check link was used already: ask your admin for a new one");
      case ledger::CheckLog::Claim::Failed:
        // The check itself still works; its result will not reach the ledger.
        log(LogLevel::Error, "check page: cannot record check ", id, " in the ledger ",
            o_.ledger_path, ": ", err);
        break;
      case ledger::CheckLog::Claim::Claimed:
        break;
    }
  }
  claimed_.insert(id);
  log(LogLevel::Notice, "check page: link ", id, " opened from ", client.to_string(), " (",
      clean(t.token.note, 80), ")");

  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string servers;
  const auto add = [&](const char* scheme, uint16_t port, const char* transport, const char* via,
                       const std::string& label) {
    if (!port) return;
    const std::string url = std::string(scheme) + ":" + h + ":" + std::to_string(port) +
                            "?transport=" + transport;
    servers += std::string(servers.empty() ? "" : ",") + "{\"urls\":" + core::json_string(url) +
               ",\"username\":" + core::json_string(cred.username) +
               ",\"credential\":" + core::json_string(cred.password) +
               ",\"via\":\"" + via + "\",\"port\":" + std::to_string(port) +
               ",\"label\":" + core::json_string(label) + "}";
  };
  add("turn", o_.udp_port, "udp", "udp", "UDP port " + std::to_string(o_.udp_port));
  add("turn", o_.tcp_port, "tcp", "tcp", "TCP port " + std::to_string(o_.tcp_port));
  add("turns", o_.tls_port, "tcp", "tls", "TLS port " + std::to_string(o_.tls_port));
  add("turns", o_.mux_port, "tcp", "tls", "TLS port " + std::to_string(o_.mux_port));
  return json(200, "{\"id\":\"" + id + "\",\"expires\":" + std::to_string(cred.expires) +
                       ",\"ice_servers\":[" + servers + "]}");
}

HttpResponse CheckPage::result(const HttpRequest& r) {
  Call call;
  if (auto refused = begin(r, &call)) return *refused;
  const int64_t now = call.now;
  const core::IpAddress& client = call.client;
  const core::JsonValue* body = &call.body;
  std::string err;
  // A result may come a little after the link expired (the checks take a minute): the MAC is
  // what counts, and that the link was taken.
  const core::CheckTokenResult& t = call.token;
  if (t.status != core::CheckTokenStatus::Ok && t.status != core::CheckTokenStatus::Expired) {
    return refusal(403, token_problem(t.status));
  }
  const std::string id = t.token.id_hex();
  if (finished_.count(id)) return refusal(409, "this check's result was recorded already");
  if (!claimed_.count(id) && !log_) return refusal(403, "this check link was not opened");

  // Rebuilt from the fields we know, escaped: the ledger never holds what a browser typed.
  const std::string verdict = clean(body->get_string("verdict").value_or(""), 300);
  std::string results = "[";
  const core::JsonValue* list = body->get("results");
  size_t n = 0;
  if (list && list->is(core::JsonValue::Kind::Array)) {
    for (const core::JsonValue& item : list->array()) {
      if (n == 8) break;
      const std::string outcome = item.get_string("outcome").value_or("");
      if (!known_outcome(outcome)) return refusal(400, "unknown outcome '" + clean(outcome, 40) + "'");
      std::string candidates = "[";
      if (const core::JsonValue* c = item.get("candidates"); c && c->is(core::JsonValue::Kind::Array)) {
        size_t k = 0;
        for (const core::JsonValue& ct : c->array()) {
          if (!ct.is(core::JsonValue::Kind::String) || k == 8) continue;
          candidates += std::string(k++ ? "," : "") + core::json_string(clean(ct.string(), 40));
        }
      }
      candidates += "]";
      const auto rtt = item.get_number("rtt_ms");
      char rtt_text[32] = "null";
      if (rtt && *rtt >= 0 && *rtt < 1e6) std::snprintf(rtt_text, sizeof rtt_text, "%.1f", *rtt);
      results += std::string(n++ ? "," : "") + "{\"url\":" +
                 core::json_string(clean(item.get_string("url").value_or(""), 200)) +
                 ",\"via\":" + core::json_string(clean(item.get_string("via").value_or(""), 8)) +
                 ",\"outcome\":" + core::json_string(outcome) + ",\"candidates\":" + candidates +
                 ",\"rtt_ms\":" + rtt_text +
                 ",\"error\":" + core::json_string(clean(item.get_string("error").value_or(""), 200)) +
                 "}";
    }
  }
  results += "]";
  bool recorded = false;
  if (log_) {
    switch (log_->finish(id, now, clean(r.header("user-agent"), 300), verdict, results, &err)) {
      case ledger::CheckLog::Finish::Recorded:
        recorded = true;
        break;
      case ledger::CheckLog::Finish::AlreadyFinished:
        finished_.insert(id);
        return refusal(409, "this check's result was recorded already");
      case ledger::CheckLog::Finish::Unknown:
        if (!claimed_.count(id)) return refusal(403, "this check link was not opened");
        break;  // opened while the ledger failed
      case ledger::CheckLog::Finish::Failed:
        log(LogLevel::Error, "check page: cannot record the result of check ", id, ": ", err);
        break;
    }
  }
  finished_.insert(id);
  log(LogLevel::Notice, "check page: result of ", id, " from ", client.to_string(), ": ", verdict);
  return json(200, std::string("{\"recorded\":") + (recorded ? "true" : "false") + "}");
}

}  // namespace turnpike::net
