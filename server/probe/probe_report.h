// What `turnpike-admin probe` found, step by step: for each URL (and each of its addresses) a
// list of steps with their time and outcome, a verdict, and for the whole run a summary that says
// which clients the deployment serves. Rendered for people (probe_text.h) and for scripts
// (--json, probe_json.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/socket_address.h"
#include "probe/json_object.h"
#include "probe/tls_report.h"
#include "probe/turn_url.h"

namespace turnpike::probe {

enum class StepStatus : uint8_t { Ok, Note, Fail };

// "0.31 ms", "12 ms", "1.2 s"; "-" for a negative (untimed) value.
std::string time_text(int64_t us);

struct Step {
  std::string name;  // "dns", "connect", "first answer", "tls", "binding", "allocate", ...
  StepStatus status = StepStatus::Ok;
  int64_t us = -1;                // how long it took; -1: not timed
  std::string text;               // one line for people
  std::vector<std::string> more;  // further lines (the certificate, the relay's reason, ...)
  std::string advice;             // Fail: what to do
  JsonObject facts;               // the same for scripts
};

// The steps against one address of a URL's host.
struct AddressReport {
  core::SocketAddress server;
  std::vector<Step> steps;
  const Step* failed() const {
    for (const auto& s : steps) {
      if (s.status == StepStatus::Fail) return &s;
    }
    return nullptr;
  }
};

struct UrlReport {
  TurnUrl url;
  std::string source;  // "command line", "XEP-0215 (urn:xmpp:extdisco:2)"
  std::string username;  // the TURN username used ("" for stun:)
  Step dns;
  std::vector<AddressReport> addresses;

  bool works() const {
    if (dns.status == StepStatus::Fail || addresses.empty()) return false;
    for (const auto& a : addresses) {
      if (a.failed()) return false;
    }
    return true;
  }
  // "works", or "fails at STEP (ADDRESS): TEXT" (advice() says what to do)
  std::string verdict() const;
  // "turns:turn.example.org:5349?transport=tcp fails at tls: certificate expired 3 days ago"
  std::string failure_in_words() const;
  // What to do about the first failure ("" when it works).
  std::string advice() const;
};

// The XMPP side: the login, and the XEP-0215 answer the URLs came from.
struct XmppReport {
  std::string jid;
  std::vector<Step> steps;
  bool ok() const {
    for (const auto& s : steps) {
      if (s.status == StepStatus::Fail) return false;
    }
    return !steps.empty();
  }
};

struct ProbeReport {
  std::optional<XmppReport> xmpp;
  std::vector<UrlReport> urls;

  bool ok() const {
    if (xmpp && !xmpp->ok()) return false;
    if (urls.empty()) return false;
    for (const auto& u : urls) {
      if (!u.works()) return false;
    }
    return true;
  }
  // In words, which clients this deployment serves (one line each).
  std::vector<std::string> summary() const;
};

}  // namespace turnpike::probe
