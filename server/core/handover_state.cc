#include "core/handover_state.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace turnpike::core {
namespace {

constexpr uint8_t kMagic[4] = {'T', 'P', 'H', 'S'};
constexpr size_t kHeaderSize = 12;

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void i64(int64_t v) { u64(uint64_t(v)); }
  void raw(const uint8_t* p, size_t n) { out_.insert(out_.end(), p, p + n); }
  void text(const std::string& s) {
    u32(uint32_t(s.size()));
    raw(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  void ip(const IpAddress& a) {
    u8(uint8_t(a.family()));
    raw(a.data(), a.size());
  }
  void address(const SocketAddress& a) {
    ip(a.ip());
    u16(a.port());
  }
  void traffic(const HandoverTraffic& t) {
    u64(t.bytes);
    u64(t.packets);
  }
  std::vector<uint8_t>& bytes() { return out_; }

 private:
  void put(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(uint8_t(v >> (8 * i)));
  }
  std::vector<uint8_t> out_;
};

// Reads with bounds checks; the first failure sticks (every later read returns zeros) and
// names what was being read.
class Reader {
 public:
  explicit Reader(Bytes in) : in_(in) {}
  bool ok() const { return why_.empty(); }
  const std::string& why() const { return why_; }
  size_t left() const { return in_.size() - pos_; }
  void fail(std::string why) {
    if (why_.empty()) why_ = std::move(why);
  }

  uint8_t u8(const char* what) { return uint8_t(get(1, what)); }
  uint16_t u16(const char* what) { return uint16_t(get(2, what)); }
  uint32_t u32(const char* what) { return uint32_t(get(4, what)); }
  uint64_t u64(const char* what) { return get(8, what); }
  int64_t i64(const char* what) { return int64_t(get(8, what)); }
  bool flag(const char* what) {
    const uint8_t v = u8(what);
    if (v > 1) fail(std::string(what) + ": not 0 or 1");
    return v == 1;
  }
  // A count of items of at least `min_item` bytes each, at most `cap`.
  uint32_t count(uint32_t cap, size_t min_item, const char* what) {
    const uint32_t n = u32(what);
    if (n > cap) {
      fail(std::string(what) + ": " + std::to_string(n) + " is more than " + std::to_string(cap));
      return 0;
    }
    if (min_item && uint64_t(n) * min_item > left()) {
      fail(std::string(what) + ": " + std::to_string(n) + " do not fit in what is left");
      return 0;
    }
    return n;
  }
  void raw(uint8_t* out, size_t n, const char* what) {
    if (!take(n, what)) {
      std::memset(out, 0, n);
      return;
    }
    std::memcpy(out, in_.data() + pos_ - n, n);
  }
  std::string text(const char* what) {
    const uint32_t n = count(kHandoverMaxText, 1, what);
    if (!take(n, what)) return {};
    return std::string(reinterpret_cast<const char*>(in_.data() + pos_ - n), n);
  }
  IpAddress ip(const char* what) {
    const uint8_t f = u8(what);
    uint8_t b[16] = {};
    if (f == uint8_t(Family::V4)) {
      raw(b, 4, what);
      return IpAddress::v4(b);
    }
    if (f == uint8_t(Family::V6)) {
      raw(b, 16, what);
      return IpAddress::v6(b);
    }
    fail(std::string(what) + ": address family " + std::to_string(f) + " is neither 4 nor 6");
    return {};
  }
  SocketAddress address(const char* what) {
    const IpAddress a = ip(what);
    return SocketAddress(a, u16(what));
  }
  HandoverTraffic traffic(const char* what) {
    HandoverTraffic t;
    t.bytes = u64(what);
    t.packets = u64(what);
    return t;
  }

 private:
  bool take(size_t n, const char* what) {
    if (!ok()) return false;
    if (n > left()) {
      fail(std::string("truncated in ") + what);
      return false;
    }
    pos_ += n;
    return true;
  }
  uint64_t get(int n, const char* what) {
    if (!take(size_t(n), what)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | in_[pos_ - size_t(n) + size_t(i)];
    return v;
  }

  Bytes in_;
  size_t pos_ = 0;
  std::string why_;
};

void encode_allocation(Writer& w, const HandoverAllocation& a) {
  w.u16(a.worker);
  w.u64(a.id);
  w.address(a.client);
  w.address(a.server);
  w.text(a.username);
  w.u8(uint8_t(a.key_algorithm));
  w.raw(a.key.data(), a.key.size());
  w.u8(a.authenticated);
  w.u8(a.sha256);
  w.u8(a.fingerprint);
  w.u8(a.dont_fragment);
  w.u8(uint8_t(a.relays.size()));
  for (const auto& r : a.relays) {
    w.u32(r.fd);
    w.address(r.bound);
    w.address(r.announced);
  }
  w.i64(a.started_unix_ms);
  w.i64(a.expires_ms);
  w.u32(a.lifetime_s);
  w.raw(a.allocate_transaction_id.data(), a.allocate_transaction_id.size());
  w.u16(a.family_error);
  w.u8(uint8_t(a.failed_family));
  w.text(a.quota_key);
  w.u32(uint32_t(a.permissions.size()));
  for (const auto& p : a.permissions) {
    w.ip(p.peer);
    w.i64(p.expires_ms);
    w.traffic(p.to_peer);
    w.traffic(p.from_peer);
  }
  w.u32(uint32_t(a.channels.size()));
  for (const auto& c : a.channels) {
    w.u16(c.number);
    w.address(c.peer);
    w.i64(c.expires_ms);
  }
  w.traffic(a.from_client);
  w.traffic(a.to_client);
  w.u64(a.dropped);
}

// Each socket sent is named once: two owners would close it twice.
bool claim(Reader& r, std::vector<bool>& used, HandoverFd fd, uint32_t fd_count, const char* what) {
  if (fd >= fd_count) {
    r.fail(std::string(what) + " " + std::to_string(fd) + " not among the " +
           std::to_string(fd_count) + " sent");
    return false;
  }
  if (used[fd]) {
    r.fail(std::string(what) + " " + std::to_string(fd) + " named twice");
    return false;
  }
  used[fd] = true;
  return true;
}

HandoverAllocation decode_allocation(Reader& r, const HandoverState& s, std::vector<bool>& used) {
  HandoverAllocation a;
  a.worker = r.u16("allocation worker");
  if (r.ok() && a.worker >= s.workers.size())
    r.fail("allocation of worker " + std::to_string(a.worker) + ", which the state does not have");
  a.id = r.u64("allocation id");
  a.client = r.address("allocation client");
  a.server = r.address("allocation server");
  a.username = r.text("allocation username");
  const uint8_t alg = r.u8("key algorithm");
  if (alg > uint8_t(HashAlgorithm::Sha256))
    r.fail("key algorithm " + std::to_string(alg) + " unknown");
  a.key_algorithm = HashAlgorithm(alg);
  r.raw(a.key.data(), a.key.size(), "key");
  a.authenticated = r.flag("authenticated");
  a.sha256 = r.flag("sha256");
  a.fingerprint = r.flag("fingerprint");
  a.dont_fragment = r.flag("dont-fragment");
  const uint8_t relays = r.u8("relay count");
  // RFC 8656 §7.2: one relayed address, or one of each family (ADDITIONAL-ADDRESS-FAMILY).
  if (r.ok() && (relays < 1 || relays > 2))
    r.fail("allocation with " + std::to_string(relays) + " relayed addresses (1 or 2)");
  for (uint8_t i = 0; r.ok() && i < relays; ++i) {
    HandoverRelay x;
    x.fd = r.u32("relay fd");
    if (r.ok()) claim(r, used, x.fd, s.fd_count, "relay socket");
    x.bound = r.address("relay bound");
    x.announced = r.address("relay announced");
    if (r.ok() && (x.announced.family() != x.bound.family() ||
                   (i == 1 && x.bound.family() == a.relays[0].bound.family())))
      r.fail("relayed addresses of the wrong families");
    a.relays.push_back(x);
  }
  a.started_unix_ms = r.i64("started");
  a.expires_ms = r.i64("expires");
  a.lifetime_s = r.u32("lifetime");
  r.raw(a.allocate_transaction_id.data(), a.allocate_transaction_id.size(), "transaction id");
  a.family_error = r.u16("family error");
  const uint8_t ff = r.u8("failed family");
  if (r.ok() && ff != uint8_t(Family::V4) && ff != uint8_t(Family::V6))
    r.fail("failed family " + std::to_string(ff));
  a.failed_family = Family(ff == uint8_t(Family::V4) ? Family::V4 : Family::V6);
  a.quota_key = r.text("quota key");
  const uint32_t np = r.count(kHandoverMaxPermissions, 1 + 4 + 8 + 32, "permissions");
  a.permissions.reserve(np);
  for (uint32_t i = 0; r.ok() && i < np; ++i) {
    HandoverPermission p;
    p.peer = r.ip("permission peer");
    p.expires_ms = r.i64("permission expiry");
    p.to_peer = r.traffic("permission counters");
    p.from_peer = r.traffic("permission counters");
    a.permissions.push_back(p);
  }
  const uint32_t nc = r.count(kHandoverMaxChannels, 2 + 7 + 8, "channels");
  a.channels.reserve(nc);
  for (uint32_t i = 0; r.ok() && i < nc; ++i) {
    HandoverChannel c;
    c.number = r.u16("channel number");
    // Only numbers the relay binds (RFC 8656 §12, core/attributes/channel_number.h).
    if (r.ok() && (c.number < 0x4000 || c.number > 0x7FFF)) r.fail("channel number out of range");
    c.peer = r.address("channel peer");
    c.expires_ms = r.i64("channel expiry");
    a.channels.push_back(c);
  }
  a.from_client = r.traffic("allocation counters");
  a.to_client = r.traffic("allocation counters");
  a.dropped = r.u64("allocation dropped");
  return a;
}

}  // namespace

std::vector<uint8_t> encode_handover(const HandoverState& s) {
  Writer w;
  w.raw(kMagic, sizeof kMagic);
  w.u16(kHandoverVersion);
  w.u16(0);
  w.u32(0);  // body length, below
  w.raw(s.nonce_key.data(), s.nonce_key.size());
  w.text(s.ledger_boot);
  w.u32(s.fd_count);
  w.u32(uint32_t(s.workers.size()));
  for (const auto& k : s.workers) {
    w.u64(k.next_session);
    w.u8(uint8_t(k.counters.size()));
    for (uint64_t c : k.counters) w.u64(c);
  }
  w.u32(uint32_t(s.listeners.size()));
  for (const auto& l : s.listeners) {
    w.u8(uint8_t(l.kind));
    w.u8(l.proxy_protocol);
    w.u16(l.worker);
    w.address(l.address);
    w.u32(l.fd);
  }
  w.u32(uint32_t(s.allocations.size()));
  for (const auto& a : s.allocations) encode_allocation(w, a);
  std::vector<uint8_t>& out = w.bytes();
  store_be32(out.data() + 8, uint32_t(out.size() - kHeaderSize));
  return std::move(out);
}

HandoverDecoded decode_handover(Bytes in, uint16_t max_version) {
  HandoverDecoded d;
  if (in.size() < kHeaderSize || std::memcmp(in.data(), kMagic, sizeof kMagic) != 0) {
    d.error = HandoverDecodeError::NotHandover;
    d.why = "not a turnpike hand-over state";
    return d;
  }
  d.version = load_be16(in.data() + 4);
  // Only the versions this binary knows: a state written by a newer turnpike may hold what this
  // one would silently drop, so it is refused and the running process keeps going.
  if (d.version == 0 || d.version > max_version || d.version > kHandoverVersion) {
    d.error = HandoverDecodeError::UnsupportedVersion;
    d.why = "hand-over state version " + std::to_string(d.version) + ", this binary reads " +
            (max_version ? "1 to " + std::to_string(std::min(max_version, kHandoverVersion))
                         : std::string("none"));
    return d;
  }
  const uint16_t flags = load_be16(in.data() + 6);
  const uint32_t length = load_be32(in.data() + 8);
  Reader r(in.subspan(kHeaderSize));
  if (flags != 0) r.fail("unknown flags " + std::to_string(flags));
  if (r.ok() && length != in.size() - kHeaderSize)
    r.fail("body length " + std::to_string(length) + ", " +
           std::to_string(in.size() - kHeaderSize) + " bytes present");
  HandoverState s;
  r.raw(s.nonce_key.data(), s.nonce_key.size(), "nonce key");
  s.ledger_boot = r.text("ledger boot");
  s.fd_count = r.u32("fd count");
  if (r.ok() && s.fd_count > kHandoverMaxFds)
    r.fail("fd count " + std::to_string(s.fd_count) + " over the cap");
  std::vector<bool> used(r.ok() ? s.fd_count : 0);
  const uint32_t nw = r.count(kHandoverMaxWorkers, 9, "workers");
  if (r.ok() && nw == 0) r.fail("no worker");
  s.workers.reserve(nw);
  for (uint32_t i = 0; r.ok() && i < nw; ++i) {
    HandoverWorker k;
    k.next_session = r.u64("next session");
    const uint8_t nc = r.u8("counter count");
    if (nc > kHandoverMaxCounters) r.fail("too many counters");
    for (uint8_t j = 0; r.ok() && j < nc; ++j) k.counters.push_back(r.u64("counter"));
    s.workers.push_back(std::move(k));
  }
  const uint32_t nl = r.count(kHandoverMaxListeners, 1 + 1 + 2 + 7 + 4, "listeners");
  s.listeners.reserve(nl);
  for (uint32_t i = 0; r.ok() && i < nl; ++i) {
    HandoverListener l;
    const uint8_t kind = r.u8("listener kind");
    if (r.ok() && kind > uint8_t(HandoverListenerKind::Http))
      r.fail("listener kind " + std::to_string(kind) + " unknown");
    l.kind = HandoverListenerKind(kind);
    l.proxy_protocol = r.flag("proxy protocol");
    l.worker = r.u16("listener worker");
    if (r.ok() && l.worker >= nw)
      r.fail("listener of worker " + std::to_string(l.worker) + ", which the state does not have");
    l.address = r.address("listener address");
    l.fd = r.u32("listener fd");
    if (r.ok()) claim(r, used, l.fd, s.fd_count, "listener socket");
    s.listeners.push_back(l);
  }
  const uint32_t na = r.count(kHandoverMaxAllocations, 100, "allocations");
  s.allocations.reserve(na);
  for (uint32_t i = 0; r.ok() && i < na; ++i)
    s.allocations.push_back(decode_allocation(r, s, used));
  if (r.ok() && r.left() != 0) r.fail(std::to_string(r.left()) + " bytes left over");
  if (!r.ok()) {
    d.error = HandoverDecodeError::Malformed;
    d.why = "hand-over state damaged: " + r.why();
    return d;
  }
  d.state = std::move(s);
  return d;
}

}  // namespace turnpike::core
