// What a TLS handshake showed about a server, in the words an admin needs: the version and ALPN
// agreed, the certificate's subject, issuer and names, whether its chain ends at a trusted CA
// (and if not, why), how many days it has left, and whether it names the host the client asked
// for. Filled by the client side of a handshake (tls_client.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace turnpike::probe {

struct TlsReport {
  bool handshake_ok = false;
  std::string handshake_error;  // when !handshake_ok: what the handshake ended with
  int64_t us = 0;               // handshake time
  std::string version;          // "TLSv1.3"
  std::string cipher;
  std::string alpn;  // "" when none was agreed
  std::string sni;   // the server name sent ("" for an IP literal: RFC 6066 §3 forbids it)

  // The server's certificate (the leaf).
  bool have_certificate = false;
  std::string subject, issuer;
  std::vector<std::string> names;  // subjectAltName entries: "DNS:turn.example.org", "IP:192.0.2.1"
  int64_t seconds_left = 0;        // until notAfter; negative once expired
  int64_t seconds_to_start = 0;    // until notBefore; positive while not yet valid

  // The chain, verified against the trust store (the system's, or --ca).
  bool chain_verified = false;
  std::string chain_error;  // OpenSSL's words for the first problem, with the depth
  std::string trust_store;  // "the system store", or "the system store and FILE" (--ca)

  // Whether the certificate names the host of the URL (RFC 6125: subjectAltName DNS or IP).
  bool name_matches = false;
  std::string host;  // the host checked

  bool verified() const { return handshake_ok && chain_verified && name_matches; }
  // "certificate expired 3 days ago", "certificate is for turn.example.org, not meet.example.org",
  // "unable to get local issuer certificate (the chain does not end at a CA in the system store)"
  // ... ; "" when verified.
  std::string problem() const;
};

// "3 days", "5 hours", "40 minutes" (rounded down; at least "0 minutes").
std::string span_in_words(int64_t seconds);

}  // namespace turnpike::probe
