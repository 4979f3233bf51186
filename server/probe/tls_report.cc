#include "probe/tls_report.h"

namespace turnpike::probe {

std::string span_in_words(int64_t seconds) {
  if (seconds < 0) seconds = -seconds;
  const auto plural = [](int64_t n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
  };
  if (seconds >= 2 * 86400) return plural(seconds / 86400, "day");
  if (seconds >= 2 * 3600) return plural(seconds / 3600, "hour");
  return plural(seconds / 60, "minute");
}

std::string TlsReport::problem() const {
  if (!handshake_ok) return "TLS handshake failed: " + handshake_error;
  if (!have_certificate) return "the server sent no certificate";
  // Expiry first: it is the commonest failure, and OpenSSL reports it as a chain error too.
  if (seconds_left < 0) return "certificate expired " + span_in_words(seconds_left) + " ago";
  if (seconds_to_start > 0) {
    return "certificate is not valid yet (it starts in " + span_in_words(seconds_to_start) +
           ": check this machine's clock and the server's)";
  }
  if (!name_matches) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return "certificate is for " + (list.empty() ? "subject " + subject + " (no subjectAltName)" : list) +
           ", not " + host;
  }
  if (!chain_verified) return chain_error + " (trust store: " + trust_store + ")";
  return "";
}

}  // namespace turnpike::probe
