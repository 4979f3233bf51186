#include "probe/url_probe.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "core/rest_credentials.h"
#include "core/stun_types.h"
#include "probe/address_scope.h"

namespace turnpike::probe {

namespace {

constexpr uint16_t kChannel = 0x4000;  // RFC 8656 §12: the first channel number
constexpr size_t kPayloadSize = 64;
constexpr char kPayloadMagic[8] = {'t', 'p', '-', 'p', 'r', 'o', 'b', 'e'};
constexpr uint32_t kRefreshLifetime = 600;

int64_t us_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

Step step(std::string name) {
  Step s;
  s.name = std::move(name);
  return s;
}

Step& fail(Step& s, std::string text, std::string advice) {
  s.status = StepStatus::Fail;
  s.text = std::move(text);
  s.advice = std::move(advice);
  return s;
}

std::string with_port(const core::SocketAddress& a, Transport t) {
  return a.to_string() + "/" + (t == Transport::Udp ? "udp" : "tcp");
}

// ---- what a refusal means -------------------------------------------------------------------

// The relay's reason (ledger) or, without it, what the probe can tell from the credential itself.
struct Explanation {
  std::vector<std::string> lines;
  std::string advice;
  JsonObject facts;
};

std::string advice_for_reason(const std::string& reason, const std::string& detail) {
  if (reason == "bad-integrity") {
    return "the credential was minted with another secret than the relay's static-auth-secret "
           "(or the password is wrong): the issuer (Prosody's mod_turnpike, turnpike-admin) must "
           "use the relay's own secret";
  }
  if (reason == "expired-credential") {
    return "issue a fresh credential; if it was fresh, the issuer's or the relay's clock is wrong "
           "(run NTP on both)";
  }
  if (reason == "credential-too-long") {
    return "the issuer's TTL is longer than the relay's max-credential-ttl: shorten the TTL";
  }
  if (reason == "unknown-user") {
    return "the relay knows no such user: TURN REST usernames are <expiry>:<user> and need "
           "use-auth-secret; static users need user=NAME:PASSWORD";
  }
  if (reason == "quota") {
    return detail.find("user-quota") != std::string::npos
               ? "the user has user-quota allocations already: wait for them to end, or raise "
                 "user-quota"
               : "the relay holds total-quota allocations: raise total-quota or add a relay";
  }
  if (reason == "capacity") {
    return "no relay port is free: widen min-port..max-port";
  }
  if (reason == "forbidden-peer") {
    return "the relay's peer policy refuses this address (" + detail +
           "); a relay whose relayed addresses are private or loopback needs external-ip, or "
           "allowed-peer-ip for that range";
  }
  if (reason == "stale-nonce" || reason == "bad-nonce") {
    return "the nonce was refused twice: is the relay's clock jumping?";
  }
  if (reason == "wrong-credentials") {
    return "the allocation belongs to other credentials (441)";
  }
  return "see `turnpike-admin refusals` on the relay host";
}

// A credential minted a moment ago that has already expired: its issuer's clock is behind this
// machine's by more than its TTL (an old credential cannot be the reason).
void issuer_clock_behind(const Credentials& c, int64_t expired_s, Explanation* e) {
  e->lines.push_back("it was issued just now by " + c.fresh_from + ", so " + c.fresh_from +
                     "'s clock is behind this machine's by its TTL plus " +
                     span_in_words(expired_s) + " at least");
  e->advice = "set the clock of " + c.fresh_from + "'s host right (NTP): it is behind";
  e->facts.add("clock", "issuer-behind");
}

Explanation explain_refusal(const StunAnswer& a, const std::string& method,
                            const core::SocketAddress& seen_as, const Credentials* creds,
                            const ProbeOptions& o) {
  Explanation e;
  std::string err;
  const int64_t now_ms = int64_t(std::time(nullptr)) * 1000;
  const int64_t attempt_ms = now_ms - a.us / 1000 - 1000;
  if (auto row = o.refusals.find(seen_as, method, creds ? creds->username : "", attempt_ms,
                                 std::chrono::milliseconds(2000), &err)) {
    std::string line = "the relay's ledger says: " + row->reason;
    if (!row->detail.empty()) line += " (" + row->detail + ")";
    e.lines.push_back(line);
    e.advice = advice_for_reason(row->reason, row->detail);
    e.facts.add("reason", row->reason).add("detail", row->detail).add("node", row->node);
    if (row->reason == "expired-credential" && creds) {
      // The relay's clock against ours: the credential's expiry is in the username.
      if (auto u = core::parse_rest_username(creds->username)) {
        const int64_t now = std::time(nullptr);
        if (u->expiry >= now) {
          e.lines.push_back("by this machine's clock it is valid for " +
                            span_in_words(u->expiry - now) +
                            " more: the relay's clock is ahead of this machine's");
          e.advice = "set the relay host's clock right (NTP): it is ahead of the issuer's";
        } else if (!creds->fresh_from.empty()) {
          issuer_clock_behind(*creds, now - u->expiry, &e);
        }
      }
    }
    if (row->reason == "credential-too-long" && creds && !creds->fresh_from.empty()) {
      if (auto u = core::parse_rest_username(creds->username)) {
        const int64_t left = u->expiry - std::time(nullptr);
        e.lines.push_back("it was issued just now by " + creds->fresh_from +
                          ", and by this machine's clock it is valid for " + span_in_words(left) +
                          ": either its TTL is that long or its clock is ahead of this machine's");
        e.advice = "make the issuer's TTL (mod_turnpike: turnpike_ttl, a day by default) shorter "
                   "than the relay's max-credential-ttl; if it already is, set the clock of " +
                   creds->fresh_from + "'s host right (NTP): it is ahead";
      }
    }
    return e;
  }
  if (o.refusals.enabled()) e.lines.push_back(err);
  if (a.code == core::error::Unauthorized && creds) {
    if (auto u = core::parse_rest_username(creds->username)) {
      const int64_t now = std::time(nullptr);
      if (u->expiry < now) {
        e.lines.push_back("the credential expired " + span_in_words(now - u->expiry) +
                          " ago (its username " + creds->username + " holds its expiry)");
        e.advice = advice_for_reason("expired-credential", "");
        if (!creds->fresh_from.empty()) issuer_clock_behind(*creds, now - u->expiry, &e);
        e.facts.add("reason", "expired-credential");
        return e;
      }
    }
    e.advice =
        "the password does not match: the secret that minted this credential differs from the "
        "relay's static-auth-secret, or it was mistyped (on the relay host, add --config FILE to "
        "see the relay's own reason)";
    return e;
  }
  switch (a.code) {
    case core::error::Forbidden:
      e.advice = "the relay refused it (403): its peer policy or a revoked credential";
      break;
    case core::error::AllocationQuotaReached:
      e.advice = advice_for_reason("quota", "user-quota");
      break;
    case core::error::InsufficientCapacity:
      e.advice = "the relay is out of capacity (508): widen min-port..max-port or raise total-quota";
      break;
    case core::error::UnsupportedTransportProtocol:
      e.advice = "the relay refuses UDP allocations (no-udp-relay)";
      break;
    case core::error::AllocationMismatch:
      e.advice = "the relay has another allocation for this 5-tuple (437)";
      break;
    default:
      e.advice = "see `turnpike-admin refusals` on the relay host";
  }
  return e;
}

// A refused request as a failed step: the code and reason phrase, then the explanation.
void refused(Step& s, const std::string& what, const StunAnswer& a, const std::string& method,
             const core::SocketAddress& seen_as, const Credentials* creds, const ProbeOptions& o) {
  if (a.kind != StunAnswer::Kind::Error) {
    fail(s, what + ": " + a.describe(), "the relay stopped answering; see its log");
    return;
  }
  Explanation e = explain_refusal(a, method, seen_as, creds, o);
  fail(s, what + " refused: " + a.describe(), e.advice);
  s.more = e.lines;
  s.facts.add("code", a.code).add("reason_phrase", a.reason);
  if (!e.facts.empty()) s.facts.add("ledger", e.facts);
}

// ---- opening a client -----------------------------------------------------------------------

struct Opened {
  std::unique_ptr<TurnClient> client;
  core::SocketAddress seen_as;  // the probe's address as the server sees it
};

// A TCP connection that failed: refused (nothing listens) or unanswered (a firewall drops it).
void connect_failed(Step& c, const std::string& err, const core::SocketAddress& server,
                    const std::string& listener_options) {
  fail(c, err,
       err.find("refused") != std::string::npos
           ? "start turnpike, or check " + listener_options
           : "a firewall drops TCP to port " + std::to_string(server.port()) +
                 ": open it on the relay host (and in the cloud's security group)");
}

// Connects to `server` over `kind` (TLS checked against the URL's host) and asks a Binding;
// appends the steps. Nothing on failure.
std::optional<Opened> open_and_bind(Transport kind, const TurnUrl& url,
                                    const core::SocketAddress& server, const ProbeOptions& o,
                                    std::vector<Step>* steps) {
  const auto deadline = Clock::now() + o.timeout;
  std::unique_ptr<StunTransport> t;
  std::string err;
  if (kind == Transport::Udp) {
    t = open_udp(server, &err);
    if (!t) {
      steps->push_back(step("first answer"));
      fail(steps->back(), err, "this machine cannot send to " + server.to_string());
      return std::nullopt;
    }
  } else {
    Step c = step("connect");
    const auto t0 = Clock::now();
    auto tcp_deadline = deadline;
    if (kind == Transport::Tls) {
      TlsReport tls;
      TlsOptions to;
      to.host = url.host;
      to.ca_file = o.ca_file;
      t = open_tls(server, to, deadline, &tls, &err);
      // The TCP part is timed by the handshake's start.
      c.us = us_since(t0) - tls.us;
      if (!t && !tls.handshake_ok && tls.handshake_error.empty() && tls.us == 0) {
        connect_failed(c, err, server,
                       "its tls-listening-port (or mux-listening-port) and that cert= is set");
        steps->push_back(std::move(c));
        return std::nullopt;
      }
      c.text = "TCP to " + with_port(server, kind) + " connected";
      steps->push_back(std::move(c));
      Step s = step("tls");
      s.us = tls.us;
      s.facts.add("handshake", tls.handshake_ok)
          .add("version", tls.version)
          .add("cipher", tls.cipher)
          .add("alpn", tls.alpn)
          .add("sni", tls.sni)
          .add("subject", tls.subject)
          .add("issuer", tls.issuer)
          .add("names", tls.names)
          .add("days_left", tls.seconds_left / 86400)
          .add("seconds_left", tls.seconds_left)
          .add("chain_verified", tls.chain_verified)
          .add("chain_error", tls.chain_error)
          .add("trust_store", tls.trust_store)
          .add("name_matches", tls.name_matches)
          .add("host", tls.host);
      if (!tls.handshake_ok) {
        fail(s, "the TLS handshake failed: " + tls.handshake_error,
             "check the relay's cert=/pkey= and its log; TLS 1.2 or 1.3 is needed");
        steps->push_back(std::move(s));
        return std::nullopt;
      }
      s.text = tls.version + ", ALPN " + (tls.alpn.empty() ? "none (as browsers)" : tls.alpn) +
               ", certificate " + (tls.verified() ? "verified" : "NOT trusted");
      std::string names;
      for (const auto& n : tls.names) names += (names.empty() ? "" : ", ") + n;
      s.more.push_back("subject " + tls.subject + ", issuer " + tls.issuer);
      s.more.push_back("names " + (names.empty() ? std::string("none (no subjectAltName)") : names) +
                       "; " + (tls.name_matches ? "matches " : "does NOT match ") + tls.host);
      s.more.push_back(
          tls.seconds_left < 0
              ? "expired " + span_in_words(tls.seconds_left) + " ago"
              : "valid for " + span_in_words(tls.seconds_left) + " more");
      s.more.push_back("chain " + (tls.chain_verified ? "verified against " + tls.trust_store
                                                      : "not verified: " + tls.chain_error));
      const std::string problem = tls.problem();
      if (!problem.empty()) {
        std::string advice;
        if (tls.seconds_left < 0) {
          advice = "renew the certificate (cert=), then send turnpike SIGHUP: it reloads without "
                   "dropping calls";
        } else if (tls.seconds_to_start > 0) {
          advice = "set the clocks right (NTP)";
        } else if (!tls.name_matches) {
          advice = "use a certificate that names " + url.host + " (subjectAltName), or give "
                   "clients the name the certificate has";
        } else {
          advice = "give cert= the whole chain (server certificate, then intermediates) from a CA "
                   "the clients trust";
        }
        if (o.insecure) {
          s.status = StepStatus::Note;
          s.text += ": " + problem + " (going on: --insecure)";
        } else {
          fail(s, "refused the TLS handshake: " + problem, advice);
          steps->push_back(std::move(s));
          return std::nullopt;
        }
      }
      steps->push_back(std::move(s));
    } else {
      t = open_tcp(server, tcp_deadline, &err);
      c.us = us_since(t0);
      if (!t) {
        connect_failed(c, err, server, "its listening-port (and that no-tcp is not set)");
        steps->push_back(std::move(c));
        return std::nullopt;
      }
      c.text = "TCP to " + with_port(server, kind) + " connected";
      steps->push_back(std::move(c));
    }
  }
  const core::SocketAddress local = t->local();
  auto client = std::make_unique<TurnClient>(std::move(t), o.timeout);
  std::optional<core::SocketAddress> mapped;
  const StunAnswer b = client->binding(&mapped);
  if (kind == Transport::Udp) {
    Step s = step("first answer");
    s.us = b.us;
    s.facts.add("transmissions", b.transmissions);
    const std::string udp_blocked =
        "UDP to port " + std::to_string(server.port()) +
        " does not get through: open it on the relay host's firewall; on networks that block UDP "
        "clients need turn:...?transport=tcp or turns:";
    if (b.kind == StunAnswer::Kind::Timeout) {
      fail(s, "no answer from " + with_port(server, kind) + ": " + b.error, udp_blocked);
      steps->push_back(std::move(s));
      return std::nullopt;
    }
    if (b.kind == StunAnswer::Kind::Failed) {
      fail(s, b.error,
           b.error.find("unreachable") != std::string::npos
               ? "start turnpike, or check its listening-port (and that no-udp is not set)"
           : b.error.find("firewall") != std::string::npos ? udp_blocked
                                                            : "see the error");
      steps->push_back(std::move(s));
      return std::nullopt;
    }
    s.text = with_port(server, kind) + " answered a STUN Binding" +
             (b.transmissions > 1 ? " after " + std::to_string(b.transmissions) + " requests" : "");
    steps->push_back(std::move(s));
  }
  Step s = step("binding");
  if (kind != Transport::Udp) s.us = b.us;  // over UDP it is the first answer's exchange
  if (!b.ok()) {
    if (b.kind == StunAnswer::Kind::Error) {
      fail(s, "the server refused a Binding: " + b.describe(), "is this a STUN/TURN server?");
    } else {
      fail(s, "no Binding answer: " + b.describe(),
           "is this a STUN/TURN port (a web server behind the mux would not answer)?");
    }
    steps->push_back(std::move(s));
    return std::nullopt;
  }
  if (!mapped) {
    fail(s, "the Binding answer has no (XOR-)MAPPED-ADDRESS", "is this a STUN server?");
    steps->push_back(std::move(s));
    return std::nullopt;
  }
  const bool nat = mapped->ip() != local.ip();
  s.text = "mapped address " + mapped->to_string() +
           (nat ? ": behind NAT (this machine's address is " + local.ip().to_string() + ")"
                : ": not behind NAT");
  s.facts.add("mapped", mapped->to_string())
      .add("local", local.to_string())
      .add("behind_nat", nat)
      .add("mapped_scope", scope_name(scope_of(mapped->ip())));
  steps->push_back(std::move(s));
  return Opened{std::move(client), *mapped};
}

// The Allocate exchange as a step. std::nullopt (the step failed) or the allocation.
std::optional<TurnClient::Allocation> allocate_step(TurnClient& c, const Credentials* creds,
                                                    const UrlProber::Missing& missing,
                                                    const core::SocketAddress& seen_as,
                                                    const ProbeOptions& o, Step* s) {
  const auto t0 = Clock::now();
  TurnClient::Allocation a = c.allocate(creds ? *creds : Credentials{});
  s->us = us_since(t0);
  s->facts.add("challenge", a.challenge.describe()).add("realm", a.realm);
  if (a.challenge.ok()) {
    // No authentication at all: clients work, and so does anyone else.
    s->status = StepStatus::Note;
    s->text = "allocated WITHOUT credentials: anyone on the internet can relay through this server";
  } else if (!a.challenge_ok) {
    if (a.challenge.kind == StunAnswer::Kind::Error) {
      refused(*s, "Allocate (before authentication)", a.challenge, "Allocate", seen_as, creds, o);
    } else {
      fail(*s, "no answer to Allocate: " + a.challenge.describe(),
           "the server answers Binding but not Allocate: is it a STUN-only server?");
    }
    return std::nullopt;
  } else if (!creds) {
    fail(*s, "401 challenge (realm " + a.realm + "), but " + missing.why, missing.advice);
    return std::nullopt;
  } else if (!a.answer.ok()) {
    refused(*s, "401 challenge (realm " + a.realm + "), then Allocate as " + creds->username,
            a.answer, "Allocate", seen_as, creds, o);
    return std::nullopt;
  } else {
    s->text = "401 challenge (realm " + a.realm + "), then allocated as " + creds->username +
              " for " + std::to_string(a.lifetime) + " s";
  }
  s->facts.add("lifetime", a.lifetime).add("relayed", a.relayed.to_string());
  if (!a.integrity_ok && a.challenge_ok) {
    s->more.push_back("the answer's MESSAGE-INTEGRITY does not match the credential's key: "
                      "something between the probe and the relay rewrites messages");
  }
  s->facts.add("integrity_ok", a.integrity_ok);
  return a;
}

// The two allocations of the probe and what the round trip needs of them.
struct Side {
  Opened opened;
  TurnClient::Allocation allocation;
  Transport kind = Transport::Udp;
};

void release(std::optional<Side>& side) {
  if (side && side->opened.client) side->opened.client->refresh(0);
}

}  // namespace

UrlReport UrlProber::probe(const TurnUrl& url, const std::optional<Credentials>& credentials,
                           const Missing& missing) {
  UrlReport r;
  r.url = url;
  if (credentials && url.is_turn()) r.username = credentials->username;
  r.dns = step("dns");
  const Resolution res = resolve_host(url.host, o_.overrides);
  r.dns.us = res.us;
  std::vector<std::string> list;
  for (const auto& a : res.addresses) list.push_back(a.to_string());
  r.dns.facts.add("addresses", list)
      .add("source", res.source == Resolution::Source::Literal    ? "literal"
                     : res.source == Resolution::Source::Override ? "--resolve"
                                                                   : "dns");
  if (res.addresses.empty()) {
    fail(r.dns, res.error, "publish an A (and AAAA) record for " + url.host);
    return r;
  }
  std::string text;
  size_t v4 = 0, v6 = 0;
  for (const auto& a : res.addresses) (a.is_v4() ? v4 : v6)++;
  for (const auto& a : list) text += (text.empty() ? "" : ", ") + a;
  r.dns.text = res.source == Resolution::Source::Literal    ? text + " (an IP literal: no lookup)"
               : res.source == Resolution::Source::Override ? text + " (from --resolve: no lookup)"
                                                             : text + " (" + std::to_string(v4) +
                                                                   " IPv4, " + std::to_string(v6) +
                                                                   " IPv6)";
  for (size_t i = 0; i < res.addresses.size() && i < o_.max_addresses; ++i) {
    AddressReport a;
    a.server = core::SocketAddress(res.addresses[i], url.port);
    probe_address(url, a.server, credentials, missing, &a);
    r.addresses.push_back(std::move(a));
  }
  if (res.addresses.size() > o_.max_addresses) {
    r.dns.more.push_back("only the first " + std::to_string(o_.max_addresses) + " are tested");
  }
  return r;
}

void UrlProber::probe_address(const TurnUrl& url, const core::SocketAddress& server,
                              const std::optional<Credentials>& credentials,
                              const Missing& missing, AddressReport* out) {
  auto& steps = out->steps;
  const Transport kind = url.transport();
  auto a_opened = open_and_bind(kind, url, server, o_, &steps);
  if (kind == Transport::Udp) udp_answered_[server] = a_opened.has_value();
  if (!a_opened || !url.is_turn()) return;

  // ---- the allocation over the URL under test
  Step alloc = step("allocate");
  const Credentials* creds = credentials ? &*credentials : nullptr;
  auto a_alloc = allocate_step(*a_opened->client, creds, missing, a_opened->seen_as, o_, &alloc);
  steps.push_back(std::move(alloc));
  if (!a_alloc) return;
  std::optional<Side> a{Side{std::move(*a_opened), *a_alloc, kind}};

  // ---- the relayed address: can a remote user send to it?
  Step relayed = step("relayed address");
  const core::SocketAddress rel = a->allocation.relayed;
  const Scope rel_scope = scope_of(rel.ip());
  const Scope server_scope = scope_of(server.ip());
  relayed.facts.add("relayed", rel.to_string())
      .add("scope", scope_name(rel_scope))
      .add("server_scope", scope_name(server_scope));
  if (rel_scope == Scope::Unspecified || rel.port() == 0) {
    fail(relayed, "the answer has no usable XOR-RELAYED-ADDRESS (" + rel.to_string() + ")",
         "a relay bug: report it with the relay's log");
    steps.push_back(std::move(relayed));
    release(a);
    return;
  }
  if (!globally_reachable(rel_scope) && globally_reachable(server_scope)) {
    fail(relayed,
         rel.to_string() + " is a " + scope_name(rel_scope) +
             " address: a remote user can never send to it, though the relay is reached at the "
             "public address " + server.ip().to_string(),
         "tell the relay its public address: external-ip=" + server.ip().to_string() + "/" +
             rel.ip().to_string() + " (PUBLIC/PRIVATE) in turnpike.conf");
    steps.push_back(std::move(relayed));
    release(a);
    return;
  }
  relayed.text = rel.to_string() + " (" + scope_name(rel_scope) + ")";
  if (!globally_reachable(rel_scope)) {
    relayed.status = StepStatus::Note;
    relayed.text += ", as is the server's address " + server.ip().to_string() +
                    ": only clients on this network can use it";
  }
  steps.push_back(std::move(relayed));

  // ---- a second allocation of the probe's own: over UDP when it answers, else like the first
  Step second = step("second allocation");
  const auto t_second = Clock::now();
  std::optional<Side> b;
  std::string udp_note;
  std::vector<Step> sub;
  const auto try_side = [&](Transport k, const core::SocketAddress& to) -> bool {
    sub.clear();
    auto opened = open_and_bind(k, url, to, o_, &sub);
    if (!opened) return false;
    Step s = step("allocate");
    auto al = allocate_step(*opened->client, creds, missing, opened->seen_as, o_, &s);
    sub.push_back(std::move(s));
    if (!al) return false;
    b = Side{std::move(*opened), *al, k};
    return true;
  };
  bool got = false;
  if (kind == Transport::Udp) {
    got = try_side(Transport::Udp, server);
  } else {
    uint16_t udp_port = url.scheme == Scheme::Turn ? url.port : 3478;
    if (auto h = udp_ports_.find(url.host); h != udp_ports_.end()) udp_port = h->second;
    const core::SocketAddress udp_server(server.ip(), udp_port);
    auto known = udp_answered_.find(udp_server);
    if (known == udp_answered_.end() || known->second) {
      got = try_side(Transport::Udp, udp_server);
      udp_answered_[udp_server] = got || (!sub.empty() && sub.front().status != StepStatus::Fail);
      if (!got) {
        for (const auto& s : sub) {
          if (s.status == StepStatus::Fail) udp_note = "UDP to " + udp_server.to_string() + ": " + s.text;
        }
      }
    } else {
      udp_note = "UDP to " + udp_server.to_string() + " got no answer earlier";
    }
    if (!got) got = try_side(kind, server);
  }
  second.us = us_since(t_second);
  if (!got) {
    const Step* f = nullptr;
    for (const auto& s : sub) {
      if (s.status == StepStatus::Fail) f = &s;
    }
    fail(second, "a second allocation failed" + (f ? " at " + f->name + ": " + f->text : std::string()),
         f ? f->advice : "see the relay's log");
    if (f) {  // the failed sub-step's lines and facts (its code, the ledger's reason) for scripts
      second.more = f->more;
      second.facts = f->facts;
      second.facts.add("failed_step", f->name);
    }
    steps.push_back(std::move(second));
    release(a);
    return;
  }
  second.text = "over " + std::string(transport_name(b->kind)) + " to " +
                b->opened.client->transport().server().to_string() + ": relayed " +
                b->allocation.relayed.to_string() + (udp_note.empty() ? "" : " (" + udp_note + ")");
  second.facts.add("transport", transport_name(b->kind))
      .add("relayed", b->allocation.relayed.to_string());
  steps.push_back(std::move(second));

  // ---- permissions and channels, both ways (RFC 8656 §9, §11)
  // Each of the two asks its relay for the other, both ways; false (the step failed) on a
  // refusal.
  const auto both_ways = [&](const char* name, const char* method, const std::string& done,
                             const auto& request, const auto& what) {
    Step st = step(name);
    const auto t0 = Clock::now();
    for (auto [from, to] : {std::pair{&*a, &*b}, std::pair{&*b, &*a}}) {
      const StunAnswer p = request(*from->opened.client, to->allocation.relayed);
      if (!p.ok()) {
        refused(st, what(to->allocation.relayed), p, method, from->opened.seen_as, creds, o_);
        steps.push_back(std::move(st));
        release(a);
        release(b);
        return false;
      }
    }
    st.us = us_since(t0);
    st.text = done;
    steps.push_back(std::move(st));
    return true;
  };
  if (!both_ways(
          "permission", "CreatePermission",
          "each allocation may receive from the other's relayed address",
          [](TurnClient& c, const core::SocketAddress& peer) { return c.create_permission(peer.ip()); },
          [](const core::SocketAddress& peer) { return "CreatePermission for " + peer.ip().to_string(); })) {
    return;
  }
  if (!both_ways(
          "channel", "ChannelBind", "channel 0x4000 bound both ways",
          [](TurnClient& c, const core::SocketAddress& peer) { return c.channel_bind(kChannel, peer); },
          [](const core::SocketAddress& peer) { return "ChannelBind to " + peer.to_string(); })) {
    return;
  }

  // ---- the relayed round trip: A -> relay -> B, and B echoes it back the same way
  Step trip = step("round trip");
  const auto t_trip = Clock::now();
  std::vector<int64_t> rtts;
  int forward = 0;
  int sent = 0;
  std::string err;
  for (int i = 0; i < o_.packets; ++i) {
    // Stop by itself when nothing gets through.
    if (i >= 5 && forward == 0) break;
    uint8_t payload[kPayloadSize] = {};
    std::memcpy(payload, kPayloadMagic, sizeof kPayloadMagic);
    core::store_be32(payload + 8, uint32_t(i));
    const auto sent_at = Clock::now();
    ++sent;
    if (!a->opened.client->send_channel_data(kChannel, core::Bytes(payload, sizeof payload), &err)) break;
    const auto deadline = sent_at + std::chrono::milliseconds(1000);
    uint16_t ch = 0;
    std::vector<uint8_t> got_payload;
    bool arrived = false;
    while (b->opened.client->receive_channel_data(&ch, &got_payload, deadline, &err) ==
           Received::Message) {
      if (got_payload.size() >= 12 && std::memcmp(got_payload.data(), kPayloadMagic, 8) == 0 &&
          core::load_be32(got_payload.data() + 8) == uint32_t(i)) {
        arrived = true;
        break;
      }
    }
    if (!arrived) continue;
    ++forward;
    b->opened.client->send_channel_data(kChannel, core::Bytes(got_payload.data(), got_payload.size()), &err);
    while (a->opened.client->receive_channel_data(&ch, &got_payload, deadline, &err) ==
           Received::Message) {
      if (got_payload.size() >= 12 && std::memcmp(got_payload.data(), kPayloadMagic, 8) == 0 &&
          core::load_be32(got_payload.data() + 8) == uint32_t(i)) {
        rtts.push_back(us_since(sent_at));
        break;
      }
    }
  }
  trip.us = us_since(t_trip);
  const int back = int(rtts.size());
  const double loss = sent ? 100.0 * double(sent - back) / double(sent) : 100.0;
  trip.facts.add("sent", sent).add("arrived", forward).add("returned", back).add("loss_percent", loss);
  if (back == 0) {
    fail(trip,
         "none of " + std::to_string(sent) + " packets came back (" + std::to_string(forward) +
             " reached the second allocation)",
         "the relay's relay ports do not pass traffic: open min-port..max-port/udp on the relay "
         "host's firewall, and check that its relayed addresses are its own");
    steps.push_back(std::move(trip));
    release(a);
    release(b);
    return;
  }
  std::sort(rtts.begin(), rtts.end());
  const int64_t median = rtts[rtts.size() / 2];
  char loss_text[32];
  std::snprintf(loss_text, sizeof loss_text, "%.0f%%", loss);
  trip.text = std::to_string(back) + " of " + std::to_string(sent) + " packets came back (" +
              loss_text + " loss), RTT min " + time_text(rtts.front()) + ", median " +
              time_text(median) + ", max " + time_text(rtts.back());
  trip.facts.add("rtt_min_ms", double(rtts.front()) / 1000.0)
      .add("rtt_median_ms", double(median) / 1000.0)
      .add("rtt_max_ms", double(rtts.back()) / 1000.0);
  if (back < sent) trip.status = StepStatus::Note;
  steps.push_back(std::move(trip));

  // ---- Refresh, then deallocation (RFC 8656 §7.2: LIFETIME 0 deletes the allocation)
  Step refresh = step("refresh");
  const StunAnswer ra = a->opened.client->refresh(kRefreshLifetime);
  refresh.us = ra.us;
  if (!ra.ok()) {
    refused(refresh, "Refresh", ra, "Refresh", a->opened.seen_as, creds, o_);
    steps.push_back(std::move(refresh));
    release(a);
    release(b);
    return;
  }
  auto rm = ra.message();
  uint32_t lifetime = 0;
  if (auto l = rm->find(core::attr::Lifetime)) {
    lifetime = core::load_be32(rm->value(*l).data());
  }
  refresh.text = "lifetime " + std::to_string(lifetime) + " s";
  refresh.facts.add("lifetime", lifetime);
  steps.push_back(std::move(refresh));

  Step dealloc = step("deallocate");
  const auto t_dealloc = Clock::now();
  const StunAnswer da = a->opened.client->refresh(0);
  const StunAnswer db = b->opened.client->refresh(0);
  dealloc.us = us_since(t_dealloc);
  if (!da.ok() || !db.ok()) {
    const StunAnswer& bad = da.ok() ? db : da;
    refused(dealloc, "Refresh with LIFETIME 0", bad, "Refresh",
            (da.ok() ? b : a)->opened.seen_as, creds, o_);
  } else {
    dealloc.text = "both allocations released";
  }
  steps.push_back(std::move(dealloc));
}

}  // namespace turnpike::probe
