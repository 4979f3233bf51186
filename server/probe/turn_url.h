// STUN and TURN URLs as clients are given them (RFC 7064 stun:/stuns:, RFC 7065 turn:/turns:):
//   stunURI = ("stun" / "stuns") ":" host [ ":" port ]
//   turnURI = ("turn" / "turns") ":" host [ ":" port ] [ "?transport=" transport ]
// The default ports are 3478 (stun, turn) and 5349 (stuns, turns) (RFC 7064 §3.2, RFC 7065 §3.2).
// A turn: URL without ?transport= is UDP; turns: without it is TLS over TCP (RFC 7065 §3.2:
// "<secure> ... over TLS", "transport=udp" with turns would be DTLS, which no browser speaks).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnpike::probe {

enum class Scheme : uint8_t { Stun, Stuns, Turn, Turns };

// How a client reaches the server for this URL.
enum class Transport : uint8_t { Udp, Tcp, Tls };

const char* transport_name(Transport t);  // "udp", "tcp", "tls"

struct TurnUrl {
  Scheme scheme = Scheme::Turn;
  std::string host;  // a name or an IP literal, without brackets
  uint16_t port = 3478;
  bool explicit_port = false;
  std::string transport_param;  // "udp", "tcp" or "" (as written)

  bool is_turn() const { return scheme == Scheme::Turn || scheme == Scheme::Turns; }
  bool secure() const { return scheme == Scheme::Stuns || scheme == Scheme::Turns; }
  Transport transport() const;
  // As written by lib-jitsi-meet and browsers: "turns:host:5349?transport=tcp" (IPv6 hosts in
  // brackets; the port always written).
  std::string to_string() const;
};

// std::nullopt with `error` saying what is wrong and what a valid URL looks like.
std::optional<TurnUrl> parse_turn_url(std::string_view text, std::string* error);

}  // namespace turnpike::probe
