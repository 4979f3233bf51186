#include "probe/probe_run.h"

#include <cstdio>
#include <utility>

namespace turnpike::probe {

namespace {

const char* status_name(StepStatus s) {
  switch (s) {
    case StepStatus::Ok:
      return "ok";
    case StepStatus::Note:
      return "note";
    case StepStatus::Fail:
      return "FAIL";
  }
  return "?";
}

void step_text(const Step& s, std::string* out) {
  char head[64];
  std::snprintf(head, sizeof head, "  %-18s %-9s %-4s ", s.name.c_str(), time_text(s.us).c_str(),
                status_name(s.status));
  *out += head + s.text + "\n";
  const std::string pad(36, ' ');
  for (const auto& m : s.more) *out += pad + m + "\n";
  if (s.status == StepStatus::Fail && !s.advice.empty()) *out += pad + "what to do: " + s.advice + "\n";
}

JsonObject step_json(const Step& s) {
  JsonObject j;
  j.add("step", s.name).add("status", s.status == StepStatus::Ok     ? "ok"
                                      : s.status == StepStatus::Note ? "note"
                                                                     : "fail");
  if (s.us >= 0) {
    j.add("ms", double(s.us) / 1000.0);
  } else {
    j.add_null("ms");
  }
  j.add("text", s.text).add("more", s.more);
  if (!s.advice.empty()) j.add("advice", s.advice);
  j.add("details", s.facts);
  return j;
}

UrlReport unusable(const std::string& text, const std::string& source, const std::string& why) {
  UrlReport u;
  u.source = source;
  u.url.host = text;
  u.dns.name = "url";
  u.dns.status = StepStatus::Fail;
  u.dns.text = why;
  u.dns.advice = "advertise a valid URL (type, host and port of the <service/>)";
  return u;
}

}  // namespace

ProbeReport run_probe(const ProbeRequest& r) {
  ProbeReport report;
  UrlProber prober(r.options);
  if (!r.xmpp) {
    const UrlProber::Missing missing{
        "the probe was given no credentials",
        "give the probe credentials: --user and --password, --secret-from CONFIG, or --xmpp JID"};
    for (const auto& u : r.urls) {
      if (u.is_turn() && u.transport() == Transport::Udp) prober.add_udp_port(u.host, u.port);
    }
    for (const auto& u : r.urls) {
      UrlReport rep = prober.probe(u, r.credentials, missing);
      rep.source = "command line";
      report.urls.push_back(std::move(rep));
    }
    return report;
  }
  XmppDiscovery d = discover_services(*r.xmpp);
  report.xmpp = std::move(d.report);
  const std::string source = "XEP-0215 (" + d.ns + ")";
  for (const auto& s : d.services) {
    std::string err;
    auto url = parse_turn_url(s.url, &err);
    if (url && url->is_turn() && url->transport() == Transport::Udp) prober.add_udp_port(url->host, url->port);
  }
  size_t n = 0;
  for (const auto& s : d.services) {
    if (s.url.empty()) continue;  // short-lived-token and other types: not STUN/TURN
    if (++n > r.max_urls) break;
    std::string err;
    auto url = parse_turn_url(s.url, &err);
    if (!url) {
      report.urls.push_back(unusable(s.url, source, err));
      continue;
    }
    std::optional<Credentials> creds;
    if (!s.username.empty() && !s.password.empty()) {
      creds = Credentials{s.username, s.password, "the XMPP server"};
    }
    const UrlProber::Missing missing{
        "the XEP-0215 answer has no credentials for it",
        "lib-jitsi-meet never asks <credentials/>, so clients cannot use this TURN server: give "
        "the item secret = true (mod_turnpike: or let turnpike_config describe the service); "
        "Prosody 0.12's own module sends turns: bare without algorithm = \"turn\""};
    UrlReport rep = prober.probe(*url, creds, missing);
    rep.source = source;
    report.urls.push_back(std::move(rep));
  }
  return report;
}

std::string render_text(const ProbeReport& r) {
  std::string out;
  if (r.xmpp) {
    out += "xmpp " + r.xmpp->jid + "\n";
    for (const auto& s : r.xmpp->steps) step_text(s, &out);
    out += "\n";
  }
  for (const auto& u : r.urls) {
    out += u.url.port ? u.url.to_string() : u.url.host;
    if (!u.username.empty()) out += "  (username " + u.username + ")";
    out += "\n";
    step_text(u.dns, &out);
    for (const auto& a : u.addresses) {
      if (u.addresses.size() > 1) out += "  -- " + a.server.to_string() + "\n";
      for (const auto& s : a.steps) step_text(s, &out);
    }
    out += "  verdict: " + u.verdict() + "\n\n";
  }
  out += "summary\n";
  for (const auto& line : r.summary()) out += "  " + line + "\n";
  return out;
}

std::string render_json(const ProbeReport& r) {
  JsonObject top;
  top.add("ok", r.ok());
  if (r.xmpp) {
    JsonObject x;
    x.add("jid", r.xmpp->jid).add("ok", r.xmpp->ok());
    std::vector<JsonObject> steps;
    for (const auto& s : r.xmpp->steps) steps.push_back(step_json(s));
    x.raw("steps", json_array(steps));
    top.add("xmpp", x);
  }
  std::vector<JsonObject> urls;
  for (const auto& u : r.urls) {
    JsonObject j;
    j.add("url", u.url.port ? u.url.to_string() : u.url.host)
        .add("source", u.source)
        .add("username", u.username)
        .add("transport", u.url.port ? transport_name(u.url.transport()) : "")
        .add("works", u.works())
        .add("verdict", u.verdict());
    const std::string advice = u.advice();
    if (!advice.empty()) j.add("advice", advice);
    j.add("dns", step_json(u.dns));
    std::vector<JsonObject> addresses;
    for (const auto& a : u.addresses) {
      JsonObject aj;
      aj.add("server", a.server.to_string()).add("works", a.failed() == nullptr);
      std::vector<JsonObject> steps;
      for (const auto& s : a.steps) steps.push_back(step_json(s));
      aj.raw("steps", json_array(steps));
      addresses.push_back(aj);
    }
    j.raw("addresses", json_array(addresses));
    urls.push_back(j);
  }
  top.raw("urls", json_array(urls));
  top.add("summary", r.summary());
  return top.str() + "\n";
}

}  // namespace turnpike::probe
