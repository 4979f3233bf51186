#include "probe/turn_url.h"

#include <cctype>
#include <optional>

namespace turnpike::probe {

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::Udp:
      return "udp";
    case Transport::Tcp:
      return "tcp";
    case Transport::Tls:
      return "tls";
  }
  return "?";
}

Transport TurnUrl::transport() const {
  if (secure()) return Transport::Tls;
  if (scheme == Scheme::Turn && transport_param == "tcp") return Transport::Tcp;
  return Transport::Udp;
}

std::string TurnUrl::to_string() const {
  static const char* const names[] = {"stun", "stuns", "turn", "turns"};
  std::string s = names[int(scheme)];
  // Appended piece by piece: GCC 12 at -O2 reports a false -Wrestrict for a literal prepended
  // to a temporary string ("[" + host).
  const bool v6 = host.find(':') != std::string::npos;
  s += ':';
  if (v6) s += '[';
  s += host;
  if (v6) s += ']';
  s += ':';
  s += std::to_string(port);
  if (!transport_param.empty()) {
    s += "?transport=";
    s += transport_param;
  }
  return s;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::nullopt_t fail(std::string* error, std::string_view text, const std::string& why) {
  // Appended, not "'" + std::string(text): GCC 12 -O2 reports a false -Wrestrict for that.
  *error = '\'';
  *error += text;
  *error += "' is not a STUN/TURN URL: " + why +
            " (write turn:HOST:PORT?transport=udp|tcp, turns:HOST:PORT?transport=tcp or "
            "stun:HOST:PORT)";
  return std::nullopt;
}

}  // namespace

std::optional<TurnUrl> parse_turn_url(std::string_view text, std::string* error) {
  TurnUrl u;
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return fail(error, text, "no scheme");
  const std::string scheme = lower(text.substr(0, colon));
  if (scheme == "stun") {
    u.scheme = Scheme::Stun;
  } else if (scheme == "stuns") {
    u.scheme = Scheme::Stuns;
  } else if (scheme == "turn") {
    u.scheme = Scheme::Turn;
  } else if (scheme == "turns") {
    u.scheme = Scheme::Turns;
  } else {
    return fail(error, text, "unknown scheme '" + scheme + "'");
  }
  std::string_view rest = text.substr(colon + 1);
  if (rest.substr(0, 2) == "//") {
    return fail(error, text, "these URLs have no '//' (RFC 7064 §3.1)");
  }
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view port_text;
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail(error, text, "no ']'");
    u.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail(error, text, "junk after ']'");
      port_text = after.substr(1);
      u.explicit_port = true;
    }
  } else {
    const size_t c = rest.rfind(':');
    if (c != std::string_view::npos && rest.find(':') != c) {
      return fail(error, text, "an IPv6 address must be in brackets");
    }
    u.host = std::string(rest.substr(0, c));
    if (c != std::string_view::npos) {
      port_text = rest.substr(c + 1);
      u.explicit_port = true;
    }
  }
  if (u.host.empty()) return fail(error, text, "no host");
  for (char ch : u.host) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '_')) {
      return fail(error, text, "the host has a character that no host name has");
    }
  }
  u.port = u.secure() ? 5349 : 3478;
  if (u.explicit_port) {
    unsigned long port = 0;
    if (port_text.empty() || port_text.size() > 5) {
      return fail(error, text, "the port is not a number");
    }
    for (char ch : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(ch))) {
        return fail(error, text, "the port is not a number");
      }
      port = port * 10 + unsigned(ch - '0');
    }
    if (port == 0 || port > 65535) return fail(error, text, "the port is not 1-65535");
    u.port = uint16_t(port);
  }
  if (!query.empty()) {
    if (!u.is_turn()) {
      return fail(error, text, "stun: URLs take no ?transport= (RFC 7064)");
    }
    const std::string q = lower(query);
    if (q.rfind("transport=", 0) != 0) {
      return fail(error, text, "the only query is ?transport=");
    }
    u.transport_param = q.substr(10);
    if (u.transport_param != "udp" && u.transport_param != "tcp") {
      return fail(error, text, "transport is udp or tcp");
    }
    if (u.scheme == Scheme::Turns && u.transport_param == "udp") {
      return fail(error, text,
                  "turns:?transport=udp is TURN over DTLS, which no browser or Jitsi client "
                  "speaks, so the probe does not test it");
    }
  }
  return u;
}

}  // namespace turnpike::probe
