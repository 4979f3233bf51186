// The probe's words: TLS problems, lib-jitsi-meet's URLs, verdicts and the summary.
#include <string>

#include <gtest/gtest.h>

#include "probe/probe_report.h"
#include "probe/tls_report.h"
#include "probe/xmpp_discovery.h"

namespace turnpike::probe {
namespace {

TEST(TlsReport, ProblemsInWords) {
  TlsReport t;
  t.handshake_ok = true;
  t.have_certificate = true;
  t.chain_verified = true;
  t.name_matches = true;
  t.seconds_left = 40 * 86400;
  t.host = "turn.example.org";
  EXPECT_TRUE(t.verified());
  EXPECT_EQ(t.problem(), "");
  t.seconds_left = -3 * 86400 - 100;
  EXPECT_EQ(t.problem(), "certificate expired 3 days ago");
  t.seconds_left = 86400;
  t.name_matches = false;
  t.names = {"DNS:web.example.org", "IP:192.0.2.1"};
  EXPECT_EQ(t.problem(), "certificate is for DNS:web.example.org, IP:192.0.2.1, not turn.example.org");
  t.name_matches = true;
  t.chain_verified = false;
  t.chain_error = "unable to get local issuer certificate (the server's certificate)";
  t.trust_store = "the system store";
  EXPECT_EQ(t.problem(),
            "unable to get local issuer certificate (the server's certificate) (trust store: the "
            "system store)");
  t.handshake_ok = false;
  t.handshake_error = "alert handshake failure";
  EXPECT_EQ(t.problem(), "TLS handshake failed: alert handshake failure");
  EXPECT_EQ(span_in_words(90), "1 minute");
  EXPECT_EQ(span_in_words(5 * 3600), "5 hours");
  EXPECT_EQ(span_in_words(-2 * 86400), "2 days");
}

// lib-jitsi-meet's _parseService (strophe.jingle.js): ?transport only when set and not udp.
TEST(JitsiUrl, AsLibJitsiMeetWritesThem) {
  DiscoveredService s;
  s.type = "stun";
  s.host = "meet.example.org";
  s.port = 3478;
  s.transport = "udp";
  EXPECT_EQ(jitsi_url(s), "stun:meet.example.org:3478");
  s.type = "turn";
  EXPECT_EQ(jitsi_url(s), "turn:meet.example.org:3478");
  s.transport = "tcp";
  EXPECT_EQ(jitsi_url(s), "turn:meet.example.org:3478?transport=tcp");
  s.type = "turns";
  s.port = 0;
  EXPECT_EQ(jitsi_url(s), "turns:meet.example.org?transport=tcp");
  s.type = "short-lived-token";
  EXPECT_EQ(jitsi_url(s), "");
}

UrlReport report(const char* url, bool works, const char* failed_step = "", const char* text = "") {
  UrlReport u;
  std::string err;
  u.url = *parse_turn_url(url, &err);
  u.dns.name = "dns";
  AddressReport a;
  Step s;
  s.name = works ? "deallocate" : failed_step;
  s.status = works ? StepStatus::Ok : StepStatus::Fail;
  s.text = text;
  a.steps.push_back(s);
  u.addresses.push_back(a);
  return u;
}

TEST(ProbeReport, SummarySaysWhichClientsAreServed) {
  ProbeReport r;
  r.urls.push_back(report("turn:meet.example.org:3478?transport=udp", true));
  r.urls.push_back(report("turns:meet.example.org:5349?transport=tcp", false, "tls",
                          "refused the TLS handshake: certificate expired 3 days ago"));
  EXPECT_FALSE(r.ok());
  const auto lines = r.summary();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "clients with UDP: yes, turn:meet.example.org:3478?transport=udp works");
  EXPECT_EQ(lines[1],
            "clients behind a TCP-only firewall: no, turns:meet.example.org:5349?transport=tcp "
            "fails at tls: refused the TLS handshake: certificate expired 3 days ago");
  EXPECT_EQ(lines[2].rfind("clients that can reach only port 443 (HTTPS-only firewalls): no, no TURN URL on port 443", 0), 0u);
  EXPECT_EQ(lines[3], "1 of 2 URLs fail");
  EXPECT_EQ(r.urls[1].verdict(), "fails at tls: refused the TLS handshake: certificate expired 3 days ago");

  r.urls[1] = report("turns:meet.example.org:443?transport=tcp", true);
  EXPECT_TRUE(r.ok());
  const auto ok = r.summary();
  EXPECT_EQ(ok[1], "clients behind a TCP-only firewall: yes, turns:meet.example.org:443?transport=tcp works");
  EXPECT_EQ(ok[2], "clients that can reach only port 443 (HTTPS-only firewalls): yes, turns:meet.example.org:443?transport=tcp works");
  EXPECT_EQ(ok[3], "every URL works");
}

TEST(ProbeReport, NothingTestedIsNotOk) {
  ProbeReport r;
  EXPECT_FALSE(r.ok());
  r.xmpp = XmppReport{};
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace turnpike::probe
