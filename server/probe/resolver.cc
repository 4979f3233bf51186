#include "probe/resolver.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "core/socket_address.h"

namespace turnpike::probe {

namespace {

int64_t since_us(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Resolution resolve_host(const std::string& host, const ResolveOverrides& overrides) {
  Resolution r;
  const auto t0 = std::chrono::steady_clock::now();
  if (auto ip = core::IpAddress::parse(host)) {
    r.source = Resolution::Source::Literal;
    r.addresses.push_back(*ip);
    return r;
  }
  if (auto it = overrides.find(lower(host)); it != overrides.end()) {
    r.source = Resolution::Source::Override;
    r.addresses = it->second;
    return r;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;  // one answer per address, not one per socket type
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  r.us = since_us(t0);
  if (rc != 0) {
    r.error = rc == EAI_NONAME || rc == EAI_NODATA
                  ? "the name " + host + " does not exist in DNS (no A or AAAA record)"
                  : std::string("the lookup of ") + host + " failed: " + gai_strerror(rc);
    return r;
  }
  for (addrinfo* a = list; a; a = a->ai_next) {
    auto sa = core::SocketAddress::from_sockaddr(a->ai_addr, a->ai_addrlen);
    if (sa && std::find(r.addresses.begin(), r.addresses.end(), sa->ip()) == r.addresses.end()) {
      r.addresses.push_back(sa->ip());
    }
  }
  ::freeaddrinfo(list);
  if (r.addresses.empty()) r.error = host + " has no IPv4 or IPv6 address";
  return r;
}

namespace {

// One SRV query; appends to `out`. False when the query failed for another reason than "no
// such record".
bool query_srv(const std::string& name, bool direct_tls, std::vector<SrvTarget>* out,
               std::string* error) {
  struct __res_state state {};
  if (res_ninit(&state) != 0) {
    *error = "the resolver could not be initialised (/etc/resolv.conf)";
    return false;
  }
  unsigned char answer[4096];
  const int n = res_nquery(&state, name.c_str(), ns_c_in, ns_t_srv, answer, sizeof answer);
  const int herr = state.res_h_errno;
  if (n < 0) {
    res_nclose(&state);
    if (herr == HOST_NOT_FOUND || herr == NO_DATA) return true;
    *error = "the SRV lookup of " + name + " failed (" + hstrerror(herr) + ")";
    return false;
  }
  ns_msg msg;
  if (ns_initparse(answer, n, &msg) == 0) {
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
      ns_rr rr;
      if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_srv ||
          ns_rr_rdlen(rr) < 7) {
        continue;
      }
      const unsigned char* d = ns_rr_rdata(rr);
      SrvTarget t;
      t.priority = uint16_t((d[0] << 8) | d[1]);
      t.weight = uint16_t((d[2] << 8) | d[3]);
      t.port = uint16_t((d[4] << 8) | d[5]);
      char target[NS_MAXDNAME];
      if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), d + 6, target, sizeof target) < 0) continue;
      t.host = target;
      t.direct_tls = direct_tls;
      // RFC 2782: a target of "." means the service is decidedly not available.
      if (t.host.empty() || t.host == ".") continue;
      out->push_back(std::move(t));
    }
  }
  res_nclose(&state);
  return true;
}

}  // namespace

std::vector<SrvTarget> lookup_xmpp_srv(const std::string& domain, std::string* error) {
  std::vector<SrvTarget> out;
  query_srv("_xmpps-client._tcp." + domain, true, &out, error);
  query_srv("_xmpp-client._tcp." + domain, false, &out, error);
  std::stable_sort(out.begin(), out.end(), [](const SrvTarget& a, const SrvTarget& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.direct_tls && !b.direct_tls;
  });
  return out;
}

}  // namespace turnpike::probe
