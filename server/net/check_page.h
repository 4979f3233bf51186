// The check page: what `turnpike-admin check-link` links to. Static HTML and JavaScript shipped
// in the binary (server/net/check_page/), served over HTTPS by net::HttpServer, and a two-call
// API behind the link's token:
//
//   POST BASE/api/start   {"token": T}             -> the deployment's TURN URLs with a
//                                                     short-lived credential; uses the link up
//   POST BASE/api/result  {"token": T, "verdict", "results": [...]}
//                                                  -> the page's findings, into the ledger
//
// Without a valid token (core/check_token.h: MAC, expiry) nothing but the static files is
// served; a used token gets nothing again (in memory and, across restarts, the ledger's primary
// key); requests are rate-limited per client address. The token travels in the URL's fragment
// (#...), which browsers never send to a server or put in a Referer. Handlers run on the HTTP
// server's thread, never a relay worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/check_token.h"
#include "core/ip_range.h"
#include "core/json_value.h"
#include "ledger/check_log.h"
#include "net/http_server.h"
#include "relay/rate_limiter.h"

namespace turnpike::net {

struct CheckPageOptions {
  std::string base = "/turnpike-check/";  // the path prefix (nginx proxies it as it is)
  std::vector<std::string> secrets;      // file order: the last one signs the credentials
  char separator = ':';
  std::string turn_host;  // "": the host of the request (Host header, or X-Forwarded-Host)
  // The TURN URLs the page tests; 0: not offered.
  uint16_t udp_port = 0, tcp_port = 0, tls_port = 0, mux_port = 0;
  int64_t credential_ttl = 600;  // seconds
  int64_t max_credential_ttl = 0;
  std::string ledger_path;  // "": no ledger (single use still holds for this run)
  std::string node;         // this relay's name in the ledger
  // Who may say where a request came from (X-Forwarded-For/-Host): a reverse proxy on this host
  // by default.
  std::vector<core::IpRange> trusted_proxies;
};

class CheckPage {
 public:
  explicit CheckPage(CheckPageOptions o);

  // Registers the page's routes; `this` must outlive the server's start() .. stop().
  void install(HttpServer& server);
  // New secrets after a reload: call it on the server's thread (HttpServer::post).
  void set_secrets(std::vector<std::string> secrets) { o_.secrets = std::move(secrets); }

  HttpResponse start(const HttpRequest& r);
  HttpResponse result(const HttpRequest& r);

 private:
  // What both API calls start with: POST, the rate limit, the JSON body and its token.
  struct Call {
    int64_t now = 0;
    core::IpAddress client;
    core::JsonValue body;
    core::CheckTokenResult token;
  };
  std::optional<HttpResponse> begin(const HttpRequest& r, Call* c);
  core::IpAddress client_of(const HttpRequest& r) const;
  std::string host_of(const HttpRequest& r) const;

  CheckPageOptions o_;
  relay::UnauthRateLimiter limiter_;
  std::optional<ledger::CheckLog> log_;
  std::unordered_set<std::string> claimed_;   // ids used in this run
  std::unordered_set<std::string> finished_;  // ids whose result came
};

// The files of the page, embedded at build time from server/net/check_page/.
struct CheckPageFile {
  const char* name;  // "index.html", "check.js", ...
  const char* content_type;
  const char* body;
};
const std::vector<CheckPageFile>& check_page_files();

}  // namespace turnpike::net
