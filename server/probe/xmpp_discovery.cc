#include "probe/xmpp_discovery.h"

#include <strophe.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/text_escape.h"
#include "probe/tls_report.h"

namespace turnpike::probe {

namespace {

constexpr const char* kExtdisco2 = "urn:xmpp:extdisco:2";
constexpr const char* kExtdisco1 = "urn:xmpp:extdisco:1";

using Clock = std::chrono::steady_clock;

int64_t us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

std::string attr(xmpp_stanza_t* s, const char* name) {
  const char* v = xmpp_stanza_get_attribute(s, name);
  return v ? core::escape_text(v) : "";
}

// Everything the libstrophe callbacks learn, in one place (they get it as userdata).
struct Session {
  const XmppOptions* o = nullptr;
  xmpp_ctx_t* ctx = nullptr;
  xmpp_conn_t* conn = nullptr;
  std::string domain, to;
  Clock::time_point start, tls_at, auth_at, connected_at, answered_at;
  bool done = false, connected = false, secured = false, answered = false;
  std::string mechanism;             // the SASL mechanism that succeeded
  std::string failed_mechanism;      // one that failed
  std::vector<std::string> offered;  // SASL mechanisms the server offered
  std::vector<std::string> cert_errors;
  std::string cert_subject, cert_not_after;
  std::vector<std::string> cert_names;
  std::vector<std::string> errors;  // libstrophe's error-level log lines
  int socket_error = 0;
  std::string stream_error;
  std::string bound_jid;
  // The XEP-0215 exchange.
  std::string ns = kExtdisco2;
  std::string first_error;  // extdisco:2's error, when :1 was asked next
  std::string iq_error;     // the final error
  std::vector<DiscoveredService> services;
};

// The certificate of a failed verification (libstrophe calls this once per problem); going on
// only with --insecure. Returns 1 to go on.
Session* g_session = nullptr;  // libstrophe's certfail handler has no userdata

int on_certfail(const xmpp_tlscert_t* cert, const char* errormsg) {
  Session* s = g_session;
  if (!s) return 0;
  std::string e = core::escape_text(errormsg ? errormsg : "unknown error");
  if (std::find(s->cert_errors.begin(), s->cert_errors.end(), e) == s->cert_errors.end()) {
    s->cert_errors.push_back(e);
  }
  if (cert && s->cert_subject.empty()) {
    if (const char* v = xmpp_tlscert_get_string(cert, XMPP_CERT_SUBJECT)) s->cert_subject = core::escape_text(v);
    if (const char* v = xmpp_tlscert_get_string(cert, XMPP_CERT_NOTAFTER)) s->cert_not_after = core::escape_text(v);
    for (size_t i = 0;; ++i) {
      const char* n = xmpp_tlscert_get_dnsname(cert, i);
      if (!n) break;
      s->cert_names.push_back("DNS:" + core::escape_text(n));
    }
  }
  return s->o->insecure ? 1 : 0;
}

// libstrophe's log, read for what the API does not tell: the SASL mechanisms offered and used,
// and its error messages. Never printed as such: debug lines hold the SASL exchange.
void on_log(void* userdata, xmpp_log_level_t level, const char* area, const char* msg) {
  auto* s = static_cast<Session*>(userdata);
  if (!msg) return;
  const std::string m = msg;
  if (level == XMPP_LEVEL_ERROR) {
    s->errors.push_back(core::escape_text(m.substr(0, 300)));
    return;
  }
  if (level != XMPP_LEVEL_DEBUG || !area || std::strcmp(area, "xmpp") != 0) return;
  if (m == "proceeding with TLS") {
    s->tls_at = Clock::now();
  } else if (m.rfind("SASL ", 0) == 0 && m.find(" auth successful") != std::string::npos) {
    s->mechanism = core::escape_text(m.substr(5, m.find(" auth successful") - 5));
    s->auth_at = Clock::now();
  } else if (m.rfind("SASL ", 0) == 0 && m.find(" auth failed") != std::string::npos) {
    s->failed_mechanism = core::escape_text(m.substr(5, m.find(" auth failed") - 5));
  } else if (m.rfind("RECV: ", 0) == 0 && m.find("<mechanisms") != std::string::npos) {
    s->offered.clear();
    size_t pos = 0;
    while ((pos = m.find("<mechanism>", pos)) != std::string::npos) {
      const size_t end = m.find("</mechanism>", pos);
      if (end == std::string::npos) break;
      s->offered.push_back(core::escape_text(m.substr(pos + 11, end - pos - 11)));
      pos = end;
    }
  }
}

void send_query(Session* s);

std::string error_condition(xmpp_stanza_t* iq) {
  xmpp_stanza_t* e = xmpp_stanza_get_child_by_name(iq, "error");
  if (!e) return "an error without <error/>";
  std::string cond;
  std::string text;
  for (xmpp_stanza_t* c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
    const char* name = xmpp_stanza_get_name(c);
    if (!name) continue;
    if (std::strcmp(name, "text") == 0) {
      if (char* t = xmpp_stanza_get_text(c)) {
        text = core::escape_text(t);
        xmpp_free(xmpp_stanza_get_context(c), t);
      }
    } else if (cond.empty()) {
      cond = core::escape_text(name);
    }
  }
  std::string out = attr(e, "type") + "/" + (cond.empty() ? "?" : cond);
  if (!text.empty()) out += " (" + text + ")";
  return out;
}

int on_reply(xmpp_conn_t* conn, xmpp_stanza_t* iq, void* userdata) {
  auto* s = static_cast<Session*>(userdata);
  const char* type = xmpp_stanza_get_type(iq);
  if (type && std::strcmp(type, "error") == 0) {
    if (s->ns == kExtdisco2) {
      // lib-jitsi-meet: "on error retries with urn:xmpp:extdisco:1" (strophe.jingle.js).
      s->first_error = error_condition(iq);
      s->ns = kExtdisco1;
      send_query(s);
      return 0;
    }
    s->iq_error = error_condition(iq);
  } else if (type && std::strcmp(type, "result") == 0) {
    xmpp_stanza_t* services = xmpp_stanza_get_child_by_name_and_ns(iq, "services", s->ns.c_str());
    if (!services) {
      s->iq_error = "the result has no <services xmlns='" + s->ns + "'/>";
    } else {
      for (xmpp_stanza_t* c = xmpp_stanza_get_children(services); c; c = xmpp_stanza_get_next(c)) {
        const char* name = xmpp_stanza_get_name(c);
        if (!name || std::strcmp(name, "service") != 0) continue;
        DiscoveredService d;
        d.type = attr(c, "type");
        d.host = attr(c, "host");
        d.transport = attr(c, "transport");
        d.username = attr(c, "username");
        d.password = attr(c, "password");
        d.expires = attr(c, "expires");
        d.name = attr(c, "name");
        const std::string restricted = attr(c, "restricted");
        d.restricted = restricted == "1" || restricted == "true";
        const std::string port = attr(c, "port");
        if (!port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos) {
          const unsigned long p = std::stoul(port);
          if (p > 0 && p <= 65535) d.port = uint16_t(p);
        }
        d.url = jitsi_url(d);
        s->services.push_back(std::move(d));
      }
    }
  } else {
    s->iq_error = "an answer of type '" + core::escape_text(type ? type : "") + "'";
  }
  s->answered = true;
  s->answered_at = Clock::now();
  xmpp_disconnect(conn);
  return 0;
}

void send_query(Session* s) {
  char* id = xmpp_uuid_gen(s->ctx);
  xmpp_stanza_t* iq = xmpp_iq_new(s->ctx, "get", id);
  xmpp_stanza_set_to(iq, s->to.c_str());
  xmpp_stanza_t* q = xmpp_stanza_new(s->ctx);
  xmpp_stanza_set_name(q, "services");
  xmpp_stanza_set_ns(q, s->ns.c_str());
  xmpp_stanza_add_child(iq, q);
  xmpp_stanza_release(q);
  xmpp_id_handler_add(s->conn, on_reply, id, s);
  xmpp_send(s->conn, iq);
  xmpp_stanza_release(iq);
  xmpp_free(s->ctx, id);
}

void on_connection(xmpp_conn_t* conn, xmpp_conn_event_t event, int error,
                   xmpp_stream_error_t* stream_error, void* userdata) {
  auto* s = static_cast<Session*>(userdata);
  if (event == XMPP_CONN_CONNECT) {
    s->connected = true;
    s->connected_at = Clock::now();
    s->secured = xmpp_conn_is_secured(conn) != 0;
    if (const char* j = xmpp_conn_get_bound_jid(conn)) s->bound_jid = core::escape_text(j);
    send_query(s);
    return;
  }
  if (event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL) {
    s->socket_error = error;
    if (stream_error) {
      static const char* const names[] = {
          "bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone",
          "host-unknown", "improper-addressing", "internal-server-error", "invalid-from",
          "invalid-id", "invalid-namespace", "invalid-xml", "not-authorized", "policy-violation",
          "remote-connection-failed", "resource-constraint", "restricted-xml", "see-other-host",
          "system-shutdown", "undefined-condition", "unsupported-encoding",
          "unsupported-stanza-type", "unsupported-version", "xml-not-well-formed"};
      const int t = int(stream_error->type);
      s->stream_error = t >= 0 && t < int(sizeof names / sizeof *names) ? names[t] : "stream error";
      if (stream_error->text) s->stream_error += " (" + core::escape_text(stream_error->text) + ")";
    }
    s->done = true;
    xmpp_stop(xmpp_conn_get_context(conn));
  }
}

struct CtxDeleter {
  void operator()(xmpp_ctx_t* c) const { xmpp_ctx_free(c); }
};
struct ConnDeleter {
  void operator()(xmpp_conn_t* c) const { xmpp_conn_release(c); }
};

}  // namespace

std::string jitsi_url(const DiscoveredService& s) {
  if (s.type != "stun" && s.type != "stuns" && s.type != "turn" && s.type != "turns") return "";
  const std::string host = s.host.find(':') != std::string::npos ? "[" + s.host + "]" : s.host;
  std::string url = s.type + ":" + host;
  if (s.port) url += ":" + std::to_string(s.port);
  if ((s.type == "turn" || s.type == "turns") && !s.transport.empty() && s.transport != "udp") {
    url += "?transport=" + s.transport;
  }
  return url;
}

XmppDiscovery discover_services(const XmppOptions& o) {
  XmppDiscovery out;
  out.report.jid = o.jid;
  auto& steps = out.report.steps;

  Session s;
  s.o = &o;
  xmpp_initialize();
  xmpp_log_t log{on_log, &s};
  std::unique_ptr<xmpp_ctx_t, CtxDeleter> ctx(xmpp_ctx_new(nullptr, &log));
  std::unique_ptr<xmpp_conn_t, ConnDeleter> conn(xmpp_conn_new(ctx.get()));
  s.ctx = ctx.get();
  s.conn = conn.get();
  char* domain = xmpp_jid_domain(ctx.get(), o.jid.c_str());
  char* node = xmpp_jid_node(ctx.get(), o.jid.c_str());
  s.domain = domain ? domain : o.jid;
  const bool anonymous = node == nullptr;
  if (domain) xmpp_free(ctx.get(), domain);
  if (node) xmpp_free(ctx.get(), node);
  s.to = o.to.empty() ? s.domain : o.to;

  // Where to connect: --xmpp-server, else SRV (RFC 6120 §3.2.1, XEP-0368), else DOMAIN:5222.
  Step where;
  where.name = "xmpp server";
  std::string host = o.server_host;
  uint16_t port = o.server_port;
  bool direct_tls = o.direct_tls;
  if (host.empty()) {
    const auto t0 = Clock::now();
    std::string err;
    auto targets = lookup_xmpp_srv(s.domain, &err);
    where.us = us_between(t0, Clock::now());
    if (!targets.empty()) {
      host = targets.front().host;
      port = targets.front().port;
      direct_tls = targets.front().direct_tls;
      where.text = host + ":" + std::to_string(port) + " from DNS SRV " +
                   (direct_tls ? "_xmpps-client" : "_xmpp-client") + "._tcp." + s.domain;
    } else if (!err.empty()) {
      where.status = StepStatus::Fail;
      where.text = err;
      where.advice = "check this machine's DNS resolver, or give --xmpp-server HOST:PORT";
      steps.push_back(std::move(where));
      return out;
    } else {
      host = s.domain;
      port = 5222;
      where.text = host + ":5222 (" + s.domain + " has no SRV record for XMPP clients)";
    }
  } else {
    if (port == 0) port = direct_tls ? 5223 : 5222;
    where.text = host + ":" + std::to_string(port) + " (--xmpp-server)";
  }
  // The server's addresses, looked up as the URLs' are: a name that does not resolve is named
  // here rather than as libstrophe's bare "cannot connect"; a --resolve answer is what we
  // connect to (libstrophe checks the certificate against the JID's domain, not this name).
  const Resolution res = resolve_host(host, o.overrides);
  where.us = where.us < 0 ? res.us : where.us + res.us;
  std::vector<std::string> addresses;
  for (const auto& a : res.addresses) addresses.push_back(a.to_string());
  where.facts.add("host", host).add("port", port).add("direct_tls", direct_tls)
      .add("addresses", addresses);
  if (res.addresses.empty()) {
    where.status = StepStatus::Fail;
    where.text += ": " + res.error;
    where.advice = "publish an A (and AAAA) record for " + host + ", or give --xmpp-server HOST:PORT";
    steps.push_back(std::move(where));
    return out;
  }
  if (res.source != Resolution::Source::Literal) {
    std::string list;
    for (const auto& a : addresses) list += (list.empty() ? "" : ", ") + a;
    where.more.push_back(host + " is " + list +
                         (res.source == Resolution::Source::Override ? " (from --resolve)" : ""));
  }
  const std::string connect_to =
      res.source == Resolution::Source::Override ? res.addresses.front().to_string() : host;
  steps.push_back(std::move(where));

  long flags = XMPP_CONN_FLAG_MANDATORY_TLS | XMPP_CONN_FLAG_DISABLE_SM;
  if (direct_tls) flags = XMPP_CONN_FLAG_LEGACY_SSL | XMPP_CONN_FLAG_DISABLE_SM;
  xmpp_conn_set_flags(conn.get(), flags);
  xmpp_conn_set_jid(conn.get(), o.jid.c_str());
  if (!anonymous) xmpp_conn_set_pass(conn.get(), o.password.c_str());
  if (!o.ca_file.empty()) xmpp_conn_set_cafile(conn.get(), o.ca_file.c_str());
  g_session = &s;
  xmpp_conn_set_certfail_handler(conn.get(), on_certfail);

  s.start = Clock::now();
  Step login;
  login.name = "xmpp login";
  if (xmpp_connect_client(conn.get(), connect_to.c_str(), port, on_connection, &s) != 0) {
    login.status = StepStatus::Fail;
    login.text = "cannot connect to " + host + ":" + std::to_string(port) +
                 (s.errors.empty() ? "" : ": " + s.errors.back());
    login.advice = "check the host name and port (--xmpp-server HOST:PORT)";
    steps.push_back(std::move(login));
    g_session = nullptr;
    return out;
  }
  const auto deadline = s.start + o.timeout;
  while (!s.done && Clock::now() < deadline) xmpp_run_once(ctx.get(), 50);
  if (!s.done) {
    xmpp_disconnect(conn.get());
    for (int i = 0; i < 20 && !s.done; ++i) xmpp_run_once(ctx.get(), 50);
  }
  g_session = nullptr;

  // ---- the login: TLS, SASL, resource binding
  const std::string tls_kind = direct_tls ? "direct TLS" : "STARTTLS";
  login.facts.add("tls", tls_kind)
      .add("mechanism", s.mechanism)
      .add("offered_mechanisms", s.offered)
      .add("certificate_errors", s.cert_errors)
      .add("bound_jid", s.bound_jid);
  std::string offered;
  for (const auto& m : s.offered) offered += (offered.empty() ? "" : " ") + m;
  if (!s.connected) {
    login.status = StepStatus::Fail;
    login.us = us_between(s.start, Clock::now());
    if (!s.cert_errors.empty()) {
      std::string errs;
      for (const auto& e : s.cert_errors) errs += (errs.empty() ? "" : "; ") + e;
      login.text = "the server's certificate is not trusted: " + errs;
      if (!s.cert_subject.empty()) login.more.push_back("subject " + s.cert_subject);
      if (!s.cert_names.empty()) {
        std::string n;
        for (const auto& x : s.cert_names) n += (n.empty() ? "" : ", ") + x;
        login.more.push_back("names " + n + " (must include " + s.domain + ")");
      }
      if (!s.cert_not_after.empty()) login.more.push_back("valid until " + s.cert_not_after);
      login.advice = "give Prosody a certificate for " + s.domain +
                     " from a CA clients trust (or --ca FILE for a private CA)";
    } else if (!s.failed_mechanism.empty()) {
      login.text = "SASL " + s.failed_mechanism + " refused the login of " + o.jid +
                   " (server offered: " + offered + ")";
      login.advice = "check the JID and the password (--password-file)";
    } else if (s.socket_error == ECONNREFUSED) {
      login.text = "connection refused: nothing listens on " + host + ":" + std::to_string(port);
      login.advice = "is the XMPP server running, with c2s on this port?";
    } else if (!s.stream_error.empty()) {
      login.text = "the server closed the stream: " + s.stream_error;
      login.advice = "see the XMPP server's log";
    } else if (!s.done) {
      login.text = "no login within " + std::to_string(o.timeout.count() / 1000) + " s";
      login.advice = "is " + host + ":" + std::to_string(port) + " an XMPP server (" + tls_kind + ")?";
    } else {
      std::string why = s.errors.empty() ? "the connection ended" : s.errors.back();
      if (s.socket_error) why += " (" + std::string(std::strerror(s.socket_error)) + ")";
      login.text = "login failed: " + why;
      login.advice = why.find("TLS") != std::string::npos
                         ? "the server must offer TLS (STARTTLS, or --xmpp-direct-tls for port 5223)"
                         : "see the XMPP server's log";
    }
    steps.push_back(std::move(login));
    return out;
  }
  login.us = us_between(s.start, s.connected_at);
  login.text = tls_kind + (s.cert_errors.empty() ? ", certificate verified" : ", certificate NOT trusted (--insecure)") +
               ", SASL " + (s.mechanism.empty() ? std::string(anonymous ? "ANONYMOUS" : "?") : s.mechanism) +
               ", bound as " + s.bound_jid;
  if (!s.secured) {
    login.status = StepStatus::Fail;
    login.text = "the session is not encrypted";
    login.advice = "enable TLS on the XMPP server";
  } else if (!s.cert_errors.empty()) {
    login.status = StepStatus::Note;
    std::string errs;
    for (const auto& e : s.cert_errors) errs += (errs.empty() ? "" : "; ") + e;
    login.more.push_back("certificate problems: " + errs);
  }
  if (!offered.empty()) login.more.push_back("mechanisms offered: " + offered);
  steps.push_back(std::move(login));

  // ---- XEP-0215
  Step disco;
  disco.name = "xep-0215";
  disco.facts.add("namespace", s.ns).add("to", s.to);
  if (!s.first_error.empty()) disco.facts.add("extdisco2_error", s.first_error);
  if (!s.answered) {
    disco.status = StepStatus::Fail;
    disco.text = "no answer to <services xmlns='" + s.ns + "'/> from " + s.to;
    disco.advice = "enable mod_turnpike (or external_services) on the VirtualHost " + s.to;
    steps.push_back(std::move(disco));
    return out;
  }
  disco.us = us_between(s.connected_at, s.answered_at);
  out.ns = s.ns;
  if (!s.iq_error.empty()) {
    disco.status = StepStatus::Fail;
    disco.text = s.to + " answered " + s.ns + " with an error: " + s.iq_error +
                 (s.first_error.empty() ? "" : " (and " + std::string(kExtdisco2) + " with " + s.first_error + ")");
    disco.advice = "enable mod_turnpike on the VirtualHost " + s.to +
                   " (lib-jitsi-meet asks the main domain), and check turnpike_access";
    steps.push_back(std::move(disco));
    return out;
  }
  disco.text = std::to_string(s.services.size()) + (s.services.size() == 1 ? " service" : " services") +
               " from " + s.to + " (" + s.ns + ")";
  if (!s.first_error.empty()) {
    disco.more.push_back(std::string(kExtdisco2) + " was answered with " + s.first_error +
                         ", so the older " + kExtdisco1 + " was asked, as lib-jitsi-meet does");
  }
  std::vector<JsonObject> list;
  for (const auto& d : s.services) {
    JsonObject j;
    j.add("type", d.type).add("host", d.host).add("port", d.port).add("transport", d.transport)
        .add("url", d.url).add("has_credentials", !d.username.empty() && !d.password.empty())
        .add("restricted", d.restricted).add("expires", d.expires);
    list.push_back(j);
    std::string line = (d.url.empty() ? "type " + d.type + " (not a STUN/TURN URL)" : d.url);
    if (d.type == "turn" || d.type == "turns") {
      line += d.username.empty() || d.password.empty() ? ", NO credentials" : ", username " + d.username;
    }
    if (!d.expires.empty()) line += ", expires " + d.expires;
    disco.more.push_back(line);
  }
  disco.facts.raw("services", json_array(list));
  if (s.services.empty()) {
    disco.status = StepStatus::Fail;
    disco.text = s.to + " answered with no service";
    disco.advice = "mod_turnpike has no services: set turnpike_config (or external_services)";
  }
  steps.push_back(std::move(disco));
  out.services = std::move(s.services);
  return out;
}

}  // namespace turnpike::probe
