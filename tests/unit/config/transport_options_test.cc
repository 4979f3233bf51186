// Options of the TCP/TLS/DTLS listeners, the port-443 multiplexer and PROXY-protocol ports, and
// the checks across them (each error names the file, the line and what to write).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config_parser.h"

namespace turnpike::config {
namespace {

std::optional<ConfigError> load(const std::string& text, Config* out = nullptr) {
  Config c;
  if (auto e =
          parse_config_text("use-auth-secret\nstatic-auth-secret=s\n" + text, "/etc/t.conf", c)) {
    return e;
  }
  c.source = "/etc/t.conf";
  auto e = validate(c);
  if (out) *out = c;
  return e;
}

TEST(TransportOptions, Defaults) {
  Config c;
  ASSERT_FALSE(load("", &c));
  EXPECT_EQ(c.max_allocate_timeout, 60u);
  EXPECT_EQ(c.max_connections_per_ip, 512u);
  EXPECT_EQ(c.mux_listening_port, 0);
  EXPECT_FALSE(c.mux_proxy_protocol);
  EXPECT_EQ(c.mux_web_drain_timeout, 60u);
}

TEST(TransportOptions, ConnectionCaps) {
  // Per address, per IPv6 /64 and in total (auto: half the descriptor limit, decided at start).
  Config c;
  ASSERT_FALSE(load("", &c));
  EXPECT_EQ(c.max_connections_per_ipv6_64, 1024u);
  EXPECT_FALSE(c.max_connections);
  ASSERT_FALSE(load("max-connections=300\nmax-connections-per-ipv6-64=40\n", &c));
  EXPECT_EQ(c.max_connections, 300u);
  EXPECT_EQ(c.max_connections_per_ipv6_64, 40u);
  ASSERT_FALSE(load("max-connections=0\n", &c));
  EXPECT_EQ(c.max_connections, 0u);  // no limit but the descriptors
  ASSERT_FALSE(load("max-connections=7\nmax-connections=auto\n", &c));
  EXPECT_FALSE(c.max_connections);
  for (const char* bad : {"-1", "lots", "100000001", ""}) {
    auto e = load(std::string("max-connections=") + bad + "\n");
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->line, 3);
    EXPECT_EQ(e->option, "max-connections");
  }
  auto e = load("max-connections-per-ipv6-64=x\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "max-connections-per-ipv6-64");
  EXPECT_NE(e->message.find("between 0 and 1000000"), std::string::npos) << e->to_string();
}

TEST(TransportOptions, TcpRelayOptions) {
  // RFC 6062: on by default, no-tcp-relay turns it off; 30 s for a ConnectionBind by default.
  Config c;
  ASSERT_FALSE(load("", &c));
  EXPECT_FALSE(c.no_tcp_relay);
  EXPECT_EQ(c.tcp_connection_bind_timeout, 30u);
  ASSERT_FALSE(load("no-tcp-relay\ntcp-connection-bind-timeout=5\n", &c));
  EXPECT_TRUE(c.no_tcp_relay);
  EXPECT_EQ(c.tcp_connection_bind_timeout, 5u);
  for (const char* bad : {"0", "3601", "-1", "30s"}) {
    auto e = load(std::string("tcp-connection-bind-timeout=") + bad + "\n");
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->line, 3);
    EXPECT_EQ(e->option, "tcp-connection-bind-timeout");
    EXPECT_NE(e->message.find("between 1 and 3600"), std::string::npos) << e->to_string();
  }
}

TEST(TransportOptions, MuxNeedsBackendAndCertificate) {
  auto e = load("cert=/c.pem\nmux-listening-port=443\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 4);
  EXPECT_EQ(e->option, "mux-listening-port");
  EXPECT_NE(e->message.find("mux-web-backend"), std::string::npos) << e->to_string();

  e = load("mux-listening-port=443\nmux-web-backend=127.0.0.1:4444\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 3);
  EXPECT_NE(e->message.find("cert="), std::string::npos) << e->to_string();

  Config c;
  ASSERT_FALSE(
      load("cert=/c.pem\nmux-listening-port=443\nmux-web-backend=[::1]:4444\n"
           "mux-web-sni=Meet.Example.org\nmux-web-sni=www.example.org\nmux-proxy-protocol\n",
           &c));
  EXPECT_EQ(c.mux_web_backend->to_string(), "[::1]:4444");
  ASSERT_EQ(c.mux_web_sni.size(), 2u);
  EXPECT_EQ(c.mux_web_sni[0], "meet.example.org");
  EXPECT_TRUE(c.mux_proxy_protocol);
}

TEST(TransportOptions, BadValues) {
  auto e = load("mux-web-backend=localhost:4444\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 3);
  EXPECT_NE(e->message.find("IP:PORT"), std::string::npos);
  e = load("mux-web-sni=bad/name\n");
  ASSERT_TRUE(e);
  e = load("max-allocate-timeout=-1\n");
  ASSERT_TRUE(e);
  for (const char* bad : {"0", "3601", "ten"}) {
    e = load(std::string("mux-web-drain-timeout=") + bad + "\n");
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->option, "mux-web-drain-timeout");
    EXPECT_NE(e->message.find("between 1 and 3600"), std::string::npos) << e->to_string();
  }
  Config c;
  ASSERT_FALSE(load("mux-web-drain-timeout=5\n", &c));
  EXPECT_EQ(c.mux_web_drain_timeout, 5u);
}

TEST(TransportOptions, ProxyTrustedIps) {
  Config c;
  ASSERT_FALSE(load("tcp-proxy-port=3479\n", &c));
  EXPECT_TRUE(c.proxy_trusted_ips.empty());  // the service then trusts loopback only
  ASSERT_FALSE(
      load("tcp-proxy-port=3479\nproxy-trusted-ip=10.0.0.5\nproxy-trusted-ip=fd00::/8\n", &c));
  ASSERT_EQ(c.proxy_trusted_ips.size(), 2u);
  EXPECT_TRUE(c.proxy_trusted_ips[0].contains(*core::IpAddress::parse("10.0.0.5")));
  EXPECT_FALSE(c.proxy_trusted_ips[0].contains(*core::IpAddress::parse("10.0.0.6")));
  EXPECT_TRUE(c.proxy_trusted_ips[1].contains(*core::IpAddress::parse("fd12::1")));
  auto e = load("proxy-trusted-ip=proxy.example.org\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "proxy-trusted-ip");
  EXPECT_EQ(e->line, 3);
}

TEST(TransportOptions, DtlsAndTlsProxyNeedCertificate) {
  auto e = load("dtls\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "dtls");
  EXPECT_EQ(e->line, 3);
  e = load("tls-proxy-port=6000\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "tls-proxy-port");
  e = load("pkey=/k.pem\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "pkey");
  // A TLS port without a certificate is an error only when the port was asked for.
  EXPECT_FALSE(load(""));
  EXPECT_TRUE(load("tls-listening-port=5349\n"));
  EXPECT_FALSE(load("tls-listening-port=5349\nno-tls\n"));
}

TEST(TransportOptions, PortClashes) {
  auto e = load("cert=/c.pem\ntcp-proxy-port=5349\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "tcp-proxy-port");
  EXPECT_EQ(e->line, 4);
  EXPECT_NE(e->message.find("tls-listening-port"), std::string::npos) << e->to_string();
  EXPECT_FALSE(load("cert=/c.pem\nno-tls\ntcp-proxy-port=5349\n"));
  e = load("cert=/c.pem\nmux-listening-port=3478\nmux-web-backend=127.0.0.1:4444\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "mux-listening-port");
  e = load("cert=/c.pem\ndtls\ntls-listening-port=3478\n");
  ASSERT_TRUE(e);
  e = load("cert=/c.pem\nmux-listening-port=443\nmux-web-backend=127.0.0.1:443\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "mux-web-backend");
}

}  // namespace
}  // namespace turnpike::config
