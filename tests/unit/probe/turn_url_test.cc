// STUN/TURN URLs (RFC 7064, RFC 7065) as the probe reads them.
#include <string>

#include <gtest/gtest.h>

#include "probe/turn_url.h"

namespace turnpike::probe {
namespace {

TurnUrl parse_ok(const std::string& text) {
  std::string err;
  auto u = parse_turn_url(text, &err);
  EXPECT_TRUE(u) << text << ": " << err;
  return u.value_or(TurnUrl{});
}

std::string parse_error(const std::string& text) {
  std::string err;
  auto u = parse_turn_url(text, &err);
  EXPECT_FALSE(u) << text;
  return err;
}

TEST(TurnUrl, DefaultsAndTransports) {
  TurnUrl u = parse_ok("turn:meet.example.org");
  EXPECT_EQ(u.scheme, Scheme::Turn);
  EXPECT_EQ(u.host, "meet.example.org");
  EXPECT_EQ(u.port, 3478);  // RFC 7065 §3.2
  EXPECT_FALSE(u.explicit_port);
  EXPECT_EQ(u.transport(), Transport::Udp);
  EXPECT_EQ(u.to_string(), "turn:meet.example.org:3478");

  u = parse_ok("turns:meet.example.org?transport=tcp");
  EXPECT_EQ(u.port, 5349);
  EXPECT_EQ(u.transport(), Transport::Tls);
  EXPECT_EQ(u.to_string(), "turns:meet.example.org:5349?transport=tcp");

  u = parse_ok("TURN:192.0.2.1:443?Transport=TCP");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.transport(), Transport::Tcp);
  EXPECT_EQ(u.transport_param, "tcp");

  EXPECT_EQ(parse_ok("turns:h:443").transport(), Transport::Tls);
  EXPECT_EQ(parse_ok("turn:h:3478?transport=udp").transport(), Transport::Udp);
  EXPECT_EQ(parse_ok("stun:h").transport(), Transport::Udp);
  EXPECT_FALSE(parse_ok("stun:h").is_turn());
  EXPECT_EQ(parse_ok("stuns:h").port, 5349);
}

TEST(TurnUrl, Ipv6InBrackets) {
  TurnUrl u = parse_ok("turn:[2001:db8::1]:3478?transport=tcp");
  EXPECT_EQ(u.host, "2001:db8::1");
  EXPECT_EQ(u.port, 3478);
  EXPECT_EQ(u.to_string(), "turn:[2001:db8::1]:3478?transport=tcp");
  EXPECT_EQ(parse_ok("turn:[::1]").port, 3478);
  // Without brackets the port cannot be told from the address.
  EXPECT_NE(parse_error("turn:2001:db8::1:3478").find("brackets"), std::string::npos);
}

TEST(TurnUrl, Refusals) {
  EXPECT_NE(parse_error("http://meet.example.org").find("unknown scheme"), std::string::npos);
  EXPECT_NE(parse_error("turn://h:3478").find("//"), std::string::npos);
  EXPECT_NE(parse_error("turn:").find("no host"), std::string::npos);
  EXPECT_NE(parse_error("turn:h:0").find("1-65535"), std::string::npos);
  EXPECT_NE(parse_error("turn:h:65536").find("1-65535"), std::string::npos);
  EXPECT_NE(parse_error("turn:h:34x").find("not a number"), std::string::npos);
  EXPECT_NE(parse_error("turn:h:3478?transport=sctp").find("udp or tcp"), std::string::npos);
  EXPECT_NE(parse_error("turn:h?foo=bar").find("?transport="), std::string::npos);
  EXPECT_NE(parse_error("stun:h?transport=udp").find("RFC 7064"), std::string::npos);
  EXPECT_NE(parse_error("turns:h?transport=udp").find("DTLS"), std::string::npos);
  EXPECT_NE(parse_error("turn:h os:1").find("character"), std::string::npos);
  EXPECT_NE(parse_error("meet.example.org").find("no scheme"), std::string::npos);
}

}  // namespace
}  // namespace turnpike::probe
