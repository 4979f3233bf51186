// Logging in to an XMPP server as a real client would, and asking it for STUN/TURN services
// (XEP-0215) exactly as lib-jitsi-meet does: <services xmlns='urn:xmpp:extdisco:2'/> to the
// domain, and on an error the same with urn:xmpp:extdisco:1; credentials must be inline (it never
// asks <credentials/>). Through libstrophe (Debian's libstrophe-dev): STARTTLS (or direct TLS,
// XEP-0368) is mandatory, the certificate is verified against the system store (and --ca)
// unless --insecure, and SASL is SCRAM-SHA-1/256/512 or PLAIN over TLS (or ANONYMOUS for a JID
// without a user part, as a Jitsi guest logs in).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probe/probe_report.h"
#include "probe/resolver.h"

namespace turnpike::probe {

struct XmppOptions {
  std::string jid;       // user@domain, or domain alone for an anonymous login
  std::string password;  // "" for an anonymous login
  std::string server_host;  // --xmpp-server HOST:PORT; "" to look up SRV records
  uint16_t server_port = 0;
  bool direct_tls = false;  // --xmpp-direct-tls: TLS from the first byte (XEP-0368)
  std::string to;           // where to send the query; "": the JID's domain (lib-jitsi-meet)
  std::string ca_file;
  bool insecure = false;
  ResolveOverrides overrides;  // --resolve: also for the XMPP server's name
  std::chrono::milliseconds timeout{15000};
};

// One <service/> of the answer, as sent (escaped with core::escape_text).
struct DiscoveredService {
  std::string type, host, transport, username, password, expires, name;
  uint16_t port = 0;
  bool restricted = false;
  // lib-jitsi-meet's _parseService: "stun:host[:port]", "turn:host[:port][?transport=t]" with
  // ?transport only when it is set and not udp. Empty for other types.
  std::string url;
};

struct XmppDiscovery {
  XmppReport report;
  std::string ns;  // the namespace that answered
  std::vector<DiscoveredService> services;
};

XmppDiscovery discover_services(const XmppOptions& o);

// lib-jitsi-meet's URL for a service (exposed for the unit tests).
std::string jitsi_url(const DiscoveredService& s);

}  // namespace turnpike::probe
