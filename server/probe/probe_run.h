// `turnpike-admin probe` as a library call: the XMPP login and XEP-0215 question (when asked),
// then every URL, then the report, rendered for people or as JSON. cmd/admin_probe.cc only
// turns the command line into a ProbeRequest.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/probe_report.h"
#include "probe/turn_client.h"
#include "probe/url_probe.h"
#include "probe/xmpp_discovery.h"

namespace turnpike::probe {

struct ProbeRequest {
  std::vector<TurnUrl> urls;               // from the command line
  std::optional<Credentials> credentials;  // --user/--password, or minted by --secret-from
  std::optional<XmppOptions> xmpp;         // --xmpp JID: the URLs and credentials come from it
  ProbeOptions options;
  size_t max_urls = 16;  // of an XEP-0215 answer
};

ProbeReport run_probe(const ProbeRequest& r);

std::string render_text(const ProbeReport& r);
std::string render_json(const ProbeReport& r);

}  // namespace turnpike::probe
