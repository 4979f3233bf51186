#include "probe/probe_report.h"

#include <cstdio>

namespace turnpike::probe {

std::string time_text(int64_t us) {
  if (us < 0) return "-";
  char buf[32];
  if (us < 10'000) {
    std::snprintf(buf, sizeof buf, "%.2f ms", double(us) / 1000.0);
  } else if (us < 10'000'000) {
    std::snprintf(buf, sizeof buf, "%.0f ms", double(us) / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f s", double(us) / 1e6);
  }
  return buf;
}

namespace {

const Step* first_failure(const UrlReport& u, const AddressReport** where) {
  if (u.dns.status == StepStatus::Fail) return &u.dns;
  for (const auto& a : u.addresses) {
    if (const Step* s = a.failed()) {
      *where = &a;
      return s;
    }
  }
  return nullptr;
}

// "turn:a:3478?transport=udp, turn:b:3478?transport=udp"
std::string list_of(const std::vector<const UrlReport*>& urls) {
  std::string s;
  for (const UrlReport* u : urls) s += (s.empty() ? "" : ", ") + u->url.to_string();
  return s;
}

// One line of the summary: "LABEL: yes, URL works" / "no, URL fails at ..." / "not offered".
std::string serves(const std::string& label, const std::vector<const UrlReport*>& candidates,
                   const std::string& not_offered) {
  std::vector<const UrlReport*> working, failing;
  for (const UrlReport* u : candidates) (u->works() ? working : failing).push_back(u);
  if (!working.empty()) {
    std::string s = label + ": yes, " + list_of(working) + (working.size() == 1 ? " works" : " work");
    if (!failing.empty()) {
      s += " (but ";
      for (size_t i = 0; i < failing.size(); ++i) {
        s += (i ? "; " : "") + failing[i]->failure_in_words();
      }
      s += ")";
    }
    return s;
  }
  if (failing.empty()) return label + ": no, " + not_offered;
  std::string s = label + ": no, ";
  for (size_t i = 0; i < failing.size(); ++i) s += (i ? "; " : "") + failing[i]->failure_in_words();
  return s;
}

}  // namespace

std::string UrlReport::verdict() const {
  const AddressReport* where = nullptr;
  const Step* s = first_failure(*this, &where);
  if (!s) return "works";
  std::string v = "fails at " + s->name;
  if (where && addresses.size() > 1) v += " (" + where->server.to_string() + ")";
  return v + ": " + s->text;
}

std::string UrlReport::failure_in_words() const {
  const AddressReport* where = nullptr;
  const Step* s = first_failure(*this, &where);
  if (!s) return url.to_string() + " works";
  return url.to_string() + " fails at " + s->name + ": " + s->text;
}

std::string UrlReport::advice() const {
  const AddressReport* where = nullptr;
  const Step* s = first_failure(*this, &where);
  return s ? s->advice : "";
}

std::vector<std::string> ProbeReport::summary() const {
  std::vector<std::string> out;
  if (xmpp && !xmpp->ok()) {
    for (const auto& s : xmpp->steps) {
      if (s.status == StepStatus::Fail) {
        out.push_back("XMPP: fails at " + s.name + ": " + s.text);
        break;
      }
    }
  }
  std::vector<const UrlReport*> stun, udp, tcp_any, port443, jvb;
  for (const auto& u : urls) {
    if (!u.url.is_turn()) {
      stun.push_back(&u);
      continue;
    }
    if (u.url.transport() == Transport::Udp) {
      udp.push_back(&u);
    } else {
      tcp_any.push_back(&u);
      if (u.url.port == 443) port443.push_back(&u);
      // lib-jitsi-meet gives the bridge connection only turn(s) URLs with transport=tcp, unless
      // config.js sets useTurnUdp (prosody-xep0215.md §3).
      if (u.url.transport_param == "tcp") jvb.push_back(&u);
    }
  }
  if (!stun.empty()) {
    out.push_back(serves("clients learning their public address (STUN)", stun, "no stun: URL works"));
  }
  if (!urls.empty()) {
    out.push_back(serves("clients with UDP", udp, "no TURN over UDP (turn:...?transport=udp) was offered"));
    out.push_back(serves("clients behind a TCP-only firewall", tcp_any,
                         "no TURN over TCP or TLS was offered (turn:...?transport=tcp, turns:)"));
    out.push_back(serves("clients that can reach only port 443 (HTTPS-only firewalls)", port443,
                         "no TURN URL on port 443 was offered (mux-listening-port=443 serves "
                         "turns: next to the web server)"));
  }
  if (xmpp) {
    out.push_back(serves("Jitsi Meet's bridge connection (lib-jitsi-meet uses only turn/turns with "
                         "transport=tcp there)",
                         jvb, "no turn:/turns: URL with transport=tcp was offered"));
  }
  size_t failing = 0;
  for (const auto& u : urls) failing += u.works() ? 0 : 1;
  if (urls.empty()) {
    out.push_back("no URL was tested");
  } else if (failing == 0) {
    out.push_back(urls.size() == 1 ? "the URL works" : "every URL works");
  } else {
    out.push_back(std::to_string(failing) + " of " + std::to_string(urls.size()) +
                  (urls.size() == 1 ? " URL fails" : " URLs fail"));
  }
  return out;
}

}  // namespace turnpike::probe
