// turnserver.conf parsing: coturn's syntax, Jitsi's template, and errors that say where and what.
#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config_parser.h"

namespace turnpike::config {
namespace {

Config parse_ok(const std::string& text) {
  Config c;
  auto err = parse_config_text(text, "t.conf", c);
  EXPECT_FALSE(err) << err->to_string();
  return c;
}

ConfigError parse_err(const std::string& text) {
  Config c;
  auto err = parse_config_text(text, "t.conf", c);
  EXPECT_TRUE(err);
  return err.value_or(ConfigError{});
}

TEST(Config, SyntaxForms) {
  Config c = parse_ok(
      "# comment\n"
      "   # indented comment\n"
      "\n"
      "listening-port=3479\n"
      "tls-listening-port 5350\n"
      "realm = \"example.org\"\n"
      "  fingerprint  \n"
      "--verbose\n"
      "lt-cred-mech=yes\n"
      "secure-stun=false\r\n");
  EXPECT_EQ(c.listening_port, 3479);
  EXPECT_EQ(c.tls_listening_port, 5350);
  EXPECT_EQ(c.realm, "example.org");
  EXPECT_TRUE(c.fingerprint);
  EXPECT_TRUE(c.verbose);
  EXPECT_TRUE(c.lt_cred_mech);
  EXPECT_FALSE(c.secure_stun);
}

TEST(Config, JitsiTemplateLoadsWithOneNoticePerObsoleteOption) {
  std::ifstream in(TURNPIKE_SOURCE_DIR "/tests/integration/fixtures/jitsi-turnserver.conf");
  ASSERT_TRUE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Config c = parse_ok(text);
  ASSERT_FALSE(validate(c));
  EXPECT_TRUE(c.use_auth_secret);
  ASSERT_EQ(c.static_auth_secrets.size(), 1u);
  EXPECT_EQ(c.newest_secret(), "__turnSecret__");
  EXPECT_EQ(c.realm, "jitsi-meet.example.com");
  EXPECT_TRUE(c.no_tcp);
  EXPECT_TRUE(c.no_tcp_relay);
  EXPECT_EQ(c.allocation_default_family, DefaultFamily::Keep);
  EXPECT_EQ(c.denied_peer_ips.size(), 23u);
  EXPECT_TRUE(c.syslog);
  EXPECT_EQ(c.cert, "/etc/jitsi/meet/jitsi-meet.example.com.crt");
  for (const char* obsolete : {"keep-address-family", "no-cli", "no-loopback-peers", "no-tlsv1'",
                               "no-tlsv1_1", "dh2066", "no-dtls"}) {
    int n = 0;
    for (const auto& notice : c.notices) n += notice.find(obsolete) != std::string::npos;
    EXPECT_EQ(n, 1) << obsolete;
  }
  // Notices say where the option was.
  EXPECT_NE(c.notices[0].find("t.conf:"), std::string::npos);
}

TEST(Config, NoticesAreGivenOncePerOption) {
  Config c = parse_ok("no-cli\nno-cli\nno-cli\n");
  EXPECT_EQ(c.notices.size(), 1u);
}

TEST(Config, UnknownOptionNamesFileLineAndSuggestsTheFix) {
  ConfigError e = parse_err("realm=x\n\nlistening-prot=3478\n");
  EXPECT_EQ(e.file, "t.conf");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.option, "listening-prot");
  EXPECT_NE(e.message.find("did you mean 'listening-port'"), std::string::npos);
  EXPECT_EQ(e.to_string().substr(0, 10), "t.conf:3: ");
  e = parse_err("frobnicate\n");
  EXPECT_NE(e.message.find("turnpike --help"), std::string::npos);
}

TEST(Config, ProcGroupWithoutProcUserIsRefused) {
  Config c;
  ASSERT_FALSE(parse_config_text("use-auth-secret\nstatic-auth-secret=s\nproc-group=turnpike\n",
                                 "/etc/t.conf", c));
  c.source = "/etc/t.conf";
  auto e = validate(c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->file, "/etc/t.conf");
  EXPECT_EQ(e->line, 3);
  EXPECT_EQ(e->option, "proc-group");
  EXPECT_NE(e->message.find("add proc-user=turnpike"), std::string::npos) << e->to_string();
  Config ok;
  ASSERT_FALSE(parse_config_text(
      "use-auth-secret\nstatic-auth-secret=s\nproc-group=turnpike\nproc-user=turnpike\n", "/etc/t.conf",
      ok));
  EXPECT_FALSE(validate(ok));
}

TEST(Config, BadValuesAreErrors) {
  EXPECT_NE(parse_err("listening-port=0\n").message.find("port number"), std::string::npos);
  EXPECT_NE(parse_err("listening-port=65536\n").message.find("port number"), std::string::npos);
  EXPECT_NE(parse_err("listening-port=12ab\n").message.find("port number"), std::string::npos);
  EXPECT_NE(parse_err("listening-port\n").message.find("needs a value"), std::string::npos);
  EXPECT_NE(parse_err("listening-ip=example.org\n").message.find("not resolved"),
            std::string::npos);
  EXPECT_NE(parse_err("denied-peer-ip=10.0.0.9-10.0.0.1\n").message.find("range"),
            std::string::npos);
  EXPECT_NE(parse_err("user=alice\n").message.find("NAME:PASSWORD"), std::string::npos);
  EXPECT_NE(parse_err("fingerprint=maybe\n").message.find("flag"), std::string::npos);
  EXPECT_NE(parse_err("allocation-default-address-family=ipv5\n").message.find("ipv4, ipv6, keep"),
            std::string::npos);
  EXPECT_NE(parse_err("external-ip=203.0.113.1/2001:db8::1\n").message.find("same family"),
            std::string::npos);
  EXPECT_NE(parse_err("relay-threads=100000\n").message.find("between 0 and 256"),
            std::string::npos);
  EXPECT_NE(parse_err("server-relay\n").message.find("not supported"), std::string::npos);
  EXPECT_EQ(parse_err("realm=x\nlistening-port=-1\n").line, 2);
}

TEST(Config, ValuesOfEveryKind) {
  Config c = parse_ok(
      "listening-ip=127.0.0.1\nlistening-ip=::1\nrelay-ip=192.0.2.1\n"
      "external-ip=203.0.113.1\nexternal-ip=203.0.113.2/10.0.0.2\n"
      "min-port=40000\nmax-port=40100\nrelay-threads=3\n"
      "use-auth-secret\nstatic-auth-secret=old\nstatic-auth-secret=new\nrest-api-separator=-\n"
      "user=bob:pass:word\nuser=carol:0x00112233445566778899AABBCCDDEEFF\n"
      "denied-peer-ip=10.0.0.0/8\nallowed-peer-ip=10.0.0.5\nallow-loopback-peers\n"
      "user-quota=5\ntotal-quota=100\nstale-nonce=300\nmax-allocate-lifetime=7200\n"
      "allocation-default-address-family=ipv6\nlog-file=/tmp/x.log\npidfile=/tmp/x.pid\n"
      "proc-user=turnserver\nproc-group=turnserver\nmax-credential-ttl=0\n");
  EXPECT_EQ(c.listening_ips.size(), 2u);
  EXPECT_TRUE(c.listening_ips[1].is_v6());
  ASSERT_EQ(c.external_ips.size(), 2u);
  EXPECT_FALSE(c.external_ips[0].private_ip);
  EXPECT_EQ(c.external_ips[1].private_ip->to_string(), "10.0.0.2");
  EXPECT_EQ(c.min_port, 40000);
  EXPECT_EQ(c.relay_threads, 3u);
  EXPECT_EQ(c.newest_secret(), "new");  // the last line signs
  EXPECT_EQ(c.rest_api_separator, '-');
  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users[0].name, "bob");
  EXPECT_EQ(c.users[0].password, "pass:word");
  ASSERT_TRUE(c.users[1].key);
  EXPECT_EQ((*c.users[1].key)[15], 0xFF);
  EXPECT_EQ(c.denied_peer_ips.size(), 1u);
  EXPECT_TRUE(c.allow_loopback_peers);
  EXPECT_EQ(c.user_quota, 5u);
  EXPECT_EQ(c.total_quota, 100u);
  EXPECT_EQ(c.stale_nonce, 300u);
  EXPECT_EQ(c.max_allocate_lifetime, 7200u);
  EXPECT_EQ(c.allocation_default_family, DefaultFamily::Ipv6);
  EXPECT_EQ(c.max_credential_ttl, 0);
  EXPECT_FALSE(validate(c));
}

TEST(Config, QuotasHaveSafeDefaultsAndZeroLiftsThem) {
  // A Jitsi participant's 54 at most (config.h) fit in user-quota; the total bounds a flood.
  const Config d = parse_ok("");
  EXPECT_EQ(d.user_quota, 64u);
  EXPECT_EQ(d.total_quota, 10000u);
  const Config z = parse_ok("user-quota=0\ntotal-quota=0\n");  // coturn's "unlimited"
  EXPECT_EQ(z.user_quota, 0u);
  EXPECT_EQ(z.total_quota, 0u);
}

TEST(Config, ExternalIpAutoNeedsAStunServer) {
  Config c = parse_ok("no-auth\nexternal-ip=auto\n");
  EXPECT_TRUE(c.external_ip_auto);
  auto e = validate(c);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("external-ip-stun-server"), std::string::npos);
  c = parse_ok("no-auth\nexternal-ip=auto\nexternal-ip-stun-server=198.51.100.20\n");
  EXPECT_FALSE(validate(c));
  EXPECT_EQ(c.external_ip_stun_server->to_string(), "198.51.100.20:3478");
  c = parse_ok("no-auth\nexternal-ip-stun-server=[2001:db8::1]:19302\n");
  EXPECT_EQ(c.external_ip_stun_server->port(), 19302);
  EXPECT_NE(parse_err("external-ip-stun-server=stun.example.org\n").message.find("ADDRESS:PORT"),
            std::string::npos);
  EXPECT_NE(parse_err("external-ip=autoo\n").message.find("or auto"), std::string::npos);
}

TEST(Config, ValidationNamesTheProblem) {
  Config c = parse_ok("min-port=50000\nmax-port=40000\nuse-auth-secret\nstatic-auth-secret=s\n");
  auto e = validate(c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->option, "min-port");
  c = parse_ok("use-auth-secret\n");
  e = validate(c);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("static-auth-secret"), std::string::npos);
  c = parse_ok("realm=x\n");
  e = validate(c);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("no way to authenticate"), std::string::npos);
  c = parse_ok("no-auth\n");
  EXPECT_FALSE(validate(c));
  // A secret without use-auth-secret is legal (coturn ignores it) but worth a notice.
  c = parse_ok("user=a:b\nstatic-auth-secret=s\n");
  EXPECT_FALSE(validate(c));
  int secret_notices = 0;
  for (const auto& n : c.notices)
    secret_notices += n.find("'use-auth-secret' is not") != std::string::npos;
  EXPECT_EQ(secret_notices, 1);
}

TEST(Config, CommandLineWinsOverTheFileAndReplacesLists) {
  const std::string path = ::testing::TempDir() + "/cli.conf";
  {
    std::ofstream f(path);
    f << "listening-port=3478\nlistening-ip=10.0.0.1\nuse-auth-secret\nstatic-auth-secret=file\n";
  }
  const char* argv[] = {"turnpike",       "-c",        path.c_str(), "--listening-port=4000",
                        "--listening-ip", "127.0.0.1", "--verbose",  "--static-auth-secret=cli"};
  CommandLine cl = parse_command_line(8, argv);
  ASSERT_FALSE(cl.error) << cl.error->to_string();
  ASSERT_TRUE(cl.config);
  EXPECT_EQ(cl.config->listening_port, 4000);
  ASSERT_EQ(cl.config->listening_ips.size(), 1u);
  EXPECT_EQ(cl.config->listening_ips[0].to_string(), "127.0.0.1");
  EXPECT_TRUE(cl.config->verbose);
  ASSERT_EQ(cl.config->static_auth_secrets.size(), 1u);
  EXPECT_EQ(cl.config->newest_secret(), "cli");
}

TEST(Config, CommandLineErrors) {
  const char* missing[] = {"turnpike", "-c", "/nonexistent/turnpike.conf"};
  CommandLine cl = parse_command_line(3, missing);
  ASSERT_TRUE(cl.error);
  EXPECT_EQ(cl.error->file, "/nonexistent/turnpike.conf");
  EXPECT_NE(cl.error->message.find("cannot read"), std::string::npos);
  const char* bad[] = {"turnpike", "--no-auth", "--listening-port=x"};
  cl = parse_command_line(3, bad);
  ASSERT_TRUE(cl.error);
  EXPECT_EQ(cl.error->file, "command line");
  EXPECT_EQ(cl.error->option, "listening-port");
  const char* stray[] = {"turnpike", "oops"};
  EXPECT_TRUE(parse_command_line(2, stray).error);
  const char* help[] = {"turnpike", "--help"};
  EXPECT_TRUE(parse_command_line(2, help).help);
  EXPECT_NE(options_help().find("--static-auth-secret=VALUE"), std::string::npos);
  EXPECT_EQ(options_help().find("dh2066"), std::string::npos);  // obsolete names are not advertised
}

TEST(Config, KernelOffloadOptions) {
  EXPECT_EQ(parse_ok("realm=x\n").kernel_offload, KernelOffload::Auto);  // the default
  EXPECT_EQ(parse_ok("kernel-offload=on\n").kernel_offload, KernelOffload::On);
  EXPECT_EQ(parse_ok("kernel-offload=off\n").kernel_offload, KernelOffload::Off);
  const Config c = parse_ok(
      "kernel-offload=auto\nkernel-offload-interface=eth0\nkernel-offload-interface=ens3\n"
      "kernel-offload-flows=1000\n");
  EXPECT_EQ(c.kernel_offload, KernelOffload::Auto);
  EXPECT_EQ(c.kernel_offload_interfaces, (std::vector<std::string>{"eth0", "ens3"}));
  EXPECT_EQ(c.kernel_offload_flows, 1000u);
  EXPECT_EQ(parse_ok("realm=x\n").kernel_offload_flows, 32768u);
  EXPECT_NE(parse_err("kernel-offload=yes\n").message.find("auto, on, off"), std::string::npos);
  EXPECT_NE(parse_err("kernel-offload-interface=a/b\n").message.find("interface name"),
            std::string::npos);
  EXPECT_NE(parse_err("kernel-offload-interface=much-too-long-name\n").message.find("interface name"),
            std::string::npos);
  EXPECT_NE(parse_err("kernel-offload-flows=many\n").message.find("whole number"), std::string::npos);
}

TEST(Config, PerAllocationTableCaps) {
  const Config d = parse_ok("realm=x\n");
  EXPECT_EQ(d.max_permissions, 128u);
  EXPECT_EQ(d.max_channels, 128u);
  const Config c = parse_ok("max-permissions=2\nmax-channels=16384\n");
  EXPECT_EQ(c.max_permissions, 2u);
  EXPECT_EQ(c.max_channels, 16384u);
  EXPECT_NE(parse_err("max-channels=0\n").message.find("between 1 and 16384"), std::string::npos);
  EXPECT_NE(parse_err("max-channels=16385\n").message.find("between 1 and 16384"),
            std::string::npos);
  EXPECT_NE(parse_err("max-permissions=0\n").message.find("between 1 and 65535"),
            std::string::npos);
}

}  // namespace
}  // namespace turnpike::config
