// The kernel fast path (DESIGN.md "Kernel fast path"): a TC ingress program that relays
// ChannelData of channels user space has bound (RFC 8656 §12), client -> peer and peer -> client,
// without the packets going up to the relay's sockets. It decides nothing: a packet relays only
// when a flow user space installed matches it and the flow's deadline has not passed; anything
// else returns TC_ACT_UNSPEC and goes up the stack as if the program were not there.
//
// Reads only the packet and __sk_buff (no kernel structure), so it needs no BTF or CO-RE.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "net/offload/flow_layout.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// Sizes are set by the loader (kernel_offload.cc) before the maps are created.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, struct tp_client_key);
  __type(value, __u32);
} tp_client_index SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, struct tp_peer_key);
  __type(value, __u32);
} tp_peer_index SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct tp_flow);
} tp_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, TP_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} tp_stats SEC(".maps");

// Where a payload is copied while it moves by 4 bytes.
struct tp_payload {
  __u8 bytes[TP_MAX_PAYLOAD];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct tp_payload);
} tp_scratch SEC(".maps");

// CLOCK_MONOTONIC nanoseconds, written by the daemon's workers every tick (kernel_offload.cc).
volatile __u64 tp_heartbeat_ns;

#define ETH_LEN 14
#define CD_HEADER 4
#define UDP_CSUM_OFF 6  // offsetof(struct udphdr, check)

static __always_inline void count(__u32 stat) {
  __u64* v = bpf_map_lookup_elem(&tp_stats, &stat);
  if (v) *v += 1;  // per CPU: no other writer
}

// A UDP datagram the program can consider: IPv4 without options and not a fragment, or IPv6
// whose next header is UDP, with lengths that agree with each other and with the frame.
struct packet {
  __u8 family;
  __u8 ttl;
  __u16 l4;       // offset of the UDP header in the frame
  __u16 udp_len;  // UDP header and payload
  __be16 sport;
  __be16 dport;
  __be16 udp_check;
  __u8 saddr[16];
  __u8 daddr[16];
};

static __always_inline int parse(struct __sk_buff* skb, struct packet* p) {
  void* data = (void*)(long)skb->data;
  void* end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > end) return -1;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > end) return -1;
    // IPv4 options and fragments (MF set or an offset; DF is fine) are left to the stack.
    if (ip->version != 4 || ip->ihl != 5 || ip->protocol != IPPROTO_UDP) return -1;
    if (ip->frag_off & bpf_htons(0x3FFF)) return -1;
    struct udphdr* udp = (void*)(ip + 1);
    if ((void*)(udp + 1) > end) return -1;
    const __u32 tot = bpf_ntohs(ip->tot_len);
    const __u32 ulen = bpf_ntohs(udp->len);
    // The frame may be longer (Ethernet padding of short frames), never shorter.
    if (ulen < sizeof(*udp) || tot != sizeof(*ip) + ulen || ETH_LEN + tot > skb->len) return -1;
    p->family = TP_FAMILY_V4;
    p->ttl = ip->ttl;
    p->l4 = ETH_LEN + sizeof(*ip);
    p->udp_len = ulen;
    __builtin_memset(p->saddr, 0, sizeof(p->saddr));
    __builtin_memset(p->daddr, 0, sizeof(p->daddr));
    __builtin_memcpy(p->saddr, &ip->saddr, 4);
    __builtin_memcpy(p->daddr, &ip->daddr, 4);
    p->sport = udp->source;
    p->dport = udp->dest;
    p->udp_check = udp->check;
    return 0;
  }
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > end) return -1;
    // Extension headers are left to the stack.
    if (ip->version != 6 || ip->nexthdr != IPPROTO_UDP) return -1;
    struct udphdr* udp = (void*)(ip + 1);
    if ((void*)(udp + 1) > end) return -1;
    const __u32 plen = bpf_ntohs(ip->payload_len);
    const __u32 ulen = bpf_ntohs(udp->len);
    if (ulen < sizeof(*udp) || plen != ulen || ETH_LEN + sizeof(*ip) + plen > skb->len) return -1;
    p->family = TP_FAMILY_V6;
    p->ttl = ip->hop_limit;
    p->l4 = ETH_LEN + sizeof(*ip);
    p->udp_len = ulen;
    __builtin_memcpy(p->saddr, &ip->saddr, 16);
    __builtin_memcpy(p->daddr, &ip->daddr, 16);
    p->sport = udp->source;
    p->dport = udp->dest;
    p->udp_check = udp->check;
    return 0;
  }
  return -1;
}

// Whether the flow may relay now; counts why not. Checked only after a flow matched, so that
// other traffic pays nothing for it.
static __always_inline int may_relay(struct __sk_buff* skb, const struct packet* p,
                                     struct tp_flow* f) {
  const __u64 now = bpf_ktime_get_ns();
  if (now - tp_heartbeat_ns > TP_HEARTBEAT_NS) {
    count(TP_STAT_HEARTBEAT);
    return 0;
  }
  // RFC 8656 §9, §12: relaying stops when the permission or the channel expires.
  if (now >= *(volatile __u64*)&f->expires_ns) {
    count(TP_STAT_EXPIRED);
    return 0;
  }
  if (skb->gso_segs > 1) {
    count(TP_STAT_GSO);
    return 0;
  }
  // RFC 8656 §14 (preferred behaviour): the outgoing TTL is one less than the incoming one; a
  // packet that would leave with 0 is user space's to handle.
  if (p->ttl <= 1) {
    count(TP_STAT_TTL);
    return 0;
  }
  return 1;
}

// Moves `len` payload bytes from offset `from` to offset `to` through the per-CPU scratch
// buffer. 0 on success.
static __always_inline int move_payload(struct __sk_buff* skb, __u32 from, __u32 to, __u32 len) {
  if (len == 0) return 0;
  if (len > TP_MAX_PAYLOAD) return -1;
  __u32 zero = 0;
  struct tp_payload* buf = bpf_map_lookup_elem(&tp_scratch, &zero);
  if (!buf) return -1;
  if (bpf_skb_load_bytes(skb, from, buf->bytes, len) < 0) return -1;
  return bpf_skb_store_bytes(skb, to, buf->bytes, len, 0) < 0 ? -1 : 0;
}

static __always_inline __u16 fold(__s64 sum) {
  __u32 s = (__u32)sum;
  s = (s & 0xFFFF) + (s >> 16);
  s = (s & 0xFFFF) + (s >> 16);
  return (__u16)~s;
}

// Writes the new IP header (addresses, length, TTL - 1; IPv4: a fresh header checksum; IPv6: the
// flow label zeroed, since this is a new flow). DSCP, ECN and DF stay as they came (RFC 8656 §14,
// preferred behaviour). `ip_len` is the new IPv4 total length or IPv6 payload length.
static __always_inline int write_ip(struct __sk_buff* skb, const struct packet* p,
                                    const __u8* saddr, const __u8* daddr, __u16 ip_len) {
  if (p->family == TP_FAMILY_V4) {
    struct iphdr ip;
    if (bpf_skb_load_bytes(skb, ETH_LEN, &ip, sizeof(ip)) < 0) return -1;
    ip.tot_len = bpf_htons(ip_len);
    ip.ttl = p->ttl - 1;
    __builtin_memcpy(&ip.saddr, saddr, 4);
    __builtin_memcpy(&ip.daddr, daddr, 4);
    ip.check = 0;
    ip.check = fold(bpf_csum_diff(0, 0, (__be32*)&ip, sizeof(ip), 0));
    return bpf_skb_store_bytes(skb, ETH_LEN, &ip, sizeof(ip), 0);
  }
  struct ipv6hdr ip;
  if (bpf_skb_load_bytes(skb, ETH_LEN, &ip, sizeof(ip)) < 0) return -1;
  ip.payload_len = bpf_htons(ip_len);
  ip.hop_limit = p->ttl - 1;
  ip.flow_lbl[0] &= 0xF0;  // the low nibble of the first byte is the top of the label
  ip.flow_lbl[1] = 0;
  ip.flow_lbl[2] = 0;
  __builtin_memcpy(&ip.saddr, saddr, 16);
  __builtin_memcpy(&ip.daddr, daddr, 16);
  return bpf_skb_store_bytes(skb, ETH_LEN, &ip, sizeof(ip), 0);
}

// The UDP header's ports and length, and the checksum updated for everything that changed: the
// pseudo header (addresses, length) and, where the checksum covers the data (every state but
// CHECKSUM_PARTIAL, which bpf_l4_csum_replace knows), ports, length and the bytes in
// `old_data`/`new_data` (16 bytes each: the ChannelData header removed or added, padding).
// A zero UDP checksum over IPv4 (none computed) stays zero (BPF_F_MARK_MANGLED_0).
static __always_inline int write_udp(struct __sk_buff* skb, const struct packet* p,
                                     const __u8* saddr, const __u8* daddr, __be16 sport,
                                     __be16 dport, __u16 udp_len, __be32* old_data,
                                     __be32* new_data) {
  __be16 head[3] = {sport, dport, bpf_htons(udp_len)};
  if (bpf_skb_store_bytes(skb, p->l4, head, sizeof(head), 0) < 0) return -1;
  if (p->family == TP_FAMILY_V4 && p->udp_check == 0) return 0;

  // The pseudo header: source, destination, length (a 32-bit word, as in IPv6; over IPv4 its
  // upper half is zero and the protocol does not change).
  __be32 from[9] = {}, to[9] = {};
  const int words = p->family == TP_FAMILY_V4 ? 1 : 4;
  __builtin_memcpy(from, p->saddr, 16);
  __builtin_memcpy(from + 4, p->daddr, 16);
  __builtin_memcpy(to, saddr, 16);
  __builtin_memcpy(to + 4, daddr, 16);
  if (words == 1) {  // IPv4: the two addresses, then the length
    from[1] = from[4];
    to[1] = to[4];
    from[2] = bpf_htonl(p->udp_len);
    to[2] = bpf_htonl(udp_len);
  } else {
    from[8] = bpf_htonl(p->udp_len);
    to[8] = bpf_htonl(udp_len);
  }
  const __u32 pseudo_size = words == 1 ? 12 : 36;
  const __s64 pseudo = bpf_csum_diff(from, pseudo_size, to, pseudo_size, 0);
  if (pseudo < 0) return -1;
  if (bpf_l4_csum_replace(skb, p->l4 + UDP_CSUM_OFF, 0, (__u32)pseudo,
                          BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0) < 0)
    return -1;

  // The data: ports and length (the checksum field itself is not summed), then what moved.
  // Each as it lies in the packet: source port, destination port, length, (checksum: not summed).
  const __be16 old_head[2] = {p->sport, p->dport}, old_len = bpf_htons(p->udp_len);
  __builtin_memcpy(&old_data[0], old_head, 4);
  __builtin_memcpy(&new_data[0], head, 4);
  __builtin_memcpy(&old_data[1], &old_len, 2);
  __builtin_memcpy(&new_data[1], &head[2], 2);
  const __s64 data = bpf_csum_diff(old_data, 16, new_data, 16, 0);
  if (data < 0) return -1;
  return bpf_l4_csum_replace(skb, p->l4 + UDP_CSUM_OFF, 0, (__u32)data, BPF_F_MARK_MANGLED_0);
}

// Client -> peer: the ChannelData header (and padding) comes off, the datagram leaves from the
// relayed address to the peer (RFC 8656 §12.5).
static __always_inline int to_peer(struct __sk_buff* skb, const struct packet* p,
                                   struct tp_flow* f) {
  const __u32 payload = p->udp_len - sizeof(struct udphdr);
  __u8 head[CD_HEADER + 3];  // the ChannelData header and up to 3 bytes after the data
  if (bpf_skb_load_bytes(skb, p->l4 + sizeof(struct udphdr), head, CD_HEADER) < 0) return TC_ACT_UNSPEC;
  const __u32 len = ((__u32)head[2] << 8) | head[3];
  // RFC 8656 §12.5: a datagram too short for the length it claims is discarded (user space does
  // it); padding is at most 3 bytes.
  if (len + CD_HEADER > payload || payload - CD_HEADER - len > 3) {
    count(TP_STAT_MALFORMED);
    return TC_ACT_UNSPEC;
  }
  if (len > TP_MAX_PAYLOAD) {
    count(TP_STAT_TOO_BIG);
    return TC_ACT_UNSPEC;
  }
  if (!may_relay(skb, p, f)) return TC_ACT_UNSPEC;
  const __u32 pad = payload - CD_HEADER - len;
  const __u32 shrink = CD_HEADER + pad;
  __u32 mtu = 0;
  if (bpf_check_mtu(skb, f->peer_ifindex, &mtu, -(__s32)shrink, 0) != BPF_MTU_CHK_RET_SUCCESS) {
    count(TP_STAT_TOO_BIG);
    return TC_ACT_UNSPEC;
  }

  // What leaves the checksum: the header, and the padding bytes each in the half of its 16-bit
  // word that its offset gives it (the data after the header starts at an even offset).
  __be32 old_data[4] = {}, new_data[4] = {};
  __builtin_memcpy(&old_data[2], head, CD_HEADER);
  if (pad) {
    if (bpf_skb_load_bytes(skb, p->l4 + sizeof(struct udphdr) + CD_HEADER + len, &head[CD_HEADER],
                           pad & 3) < 0)
      return TC_ACT_UNSPEC;
    // Padding byte i sits at data offset len + i: the high half of a word when that is even.
    __u8 pb[4] = {};
    if (len & 1) {
      pb[1] = head[CD_HEADER];
      if (pad > 1) pb[0] = head[CD_HEADER + 1];
      if (pad > 2) pb[3] = head[CD_HEADER + 2];
    } else {
      pb[0] = head[CD_HEADER];
      if (pad > 1) pb[1] = head[CD_HEADER + 1];
      if (pad > 2) pb[2] = head[CD_HEADER + 2];
    }
    __builtin_memcpy(&old_data[3], pb, 4);
  }

  // From here on the packet is being rewritten: a failure drops it.
  const __u32 data_at = p->l4 + sizeof(struct udphdr);
  const __u16 udp_len = p->udp_len - shrink;
  const __u16 ip_len = p->family == TP_FAMILY_V4 ? sizeof(struct iphdr) + udp_len : udp_len;
  const __u32 frame = ETH_LEN + (p->family == TP_FAMILY_V4 ? 0 : sizeof(struct ipv6hdr)) + ip_len;
  if (move_payload(skb, data_at + CD_HEADER, data_at, len) < 0 ||
      bpf_skb_change_tail(skb, frame, 0) < 0 ||
      write_ip(skb, p, f->relay_ip, f->peer_ip, ip_len) < 0 ||
      write_udp(skb, p, f->relay_ip, f->peer_ip, f->relay_port, f->peer_port, udp_len, old_data,
                new_data) < 0) {
    count(TP_STAT_FAILED);
    return TC_ACT_SHOT;
  }
  __sync_fetch_and_add(&f->to_peer_packets, 1);
  __sync_fetch_and_add(&f->to_peer_bytes, len);
  count(TP_STAT_TO_PEER);
  skb->tstamp = 0;  // a receive time stamp must not read as a departure time on the way out
  return bpf_redirect_neigh(f->peer_ifindex, 0, 0, 0);
}

// Peer -> client: a ChannelData header in front (no padding over UDP, RFC 8656 §12.5), and the
// datagram leaves from the listener's address to the client.
static __always_inline int to_client(struct __sk_buff* skb, const struct packet* p,
                                     struct tp_flow* f) {
  const __u32 len = p->udp_len - sizeof(struct udphdr);
  if (len > TP_MAX_PAYLOAD) {
    count(TP_STAT_TOO_BIG);
    return TC_ACT_UNSPEC;
  }
  if (!may_relay(skb, p, f)) return TC_ACT_UNSPEC;
  __u32 mtu = 0;
  if (bpf_check_mtu(skb, f->client_ifindex, &mtu, CD_HEADER, 0) != BPF_MTU_CHK_RET_SUCCESS) {
    count(TP_STAT_TOO_BIG);
    return TC_ACT_UNSPEC;
  }
  __u8 head[CD_HEADER];
  __builtin_memcpy(head, &f->channel, 2);
  head[2] = len >> 8;
  head[3] = len & 0xFF;
  __be32 old_data[4] = {}, new_data[4] = {};
  __builtin_memcpy(&new_data[2], head, CD_HEADER);

  const __u32 data_at = p->l4 + sizeof(struct udphdr);
  const __u16 udp_len = p->udp_len + CD_HEADER;
  const __u16 ip_len = p->family == TP_FAMILY_V4 ? sizeof(struct iphdr) + udp_len : udp_len;
  const __u32 frame = ETH_LEN + (p->family == TP_FAMILY_V4 ? 0 : sizeof(struct ipv6hdr)) + ip_len;
  if (bpf_skb_change_tail(skb, frame, 0) < 0 ||
      move_payload(skb, data_at, data_at + CD_HEADER, len) < 0 ||
      bpf_skb_store_bytes(skb, data_at, head, CD_HEADER, 0) < 0 ||
      write_ip(skb, p, f->server_ip, f->client_ip, ip_len) < 0 ||
      write_udp(skb, p, f->server_ip, f->client_ip, f->server_port, f->client_port, udp_len,
                old_data, new_data) < 0) {
    count(TP_STAT_FAILED);
    return TC_ACT_SHOT;
  }
  __sync_fetch_and_add(&f->to_client_packets, 1);
  __sync_fetch_and_add(&f->to_client_bytes, len);
  count(TP_STAT_TO_CLIENT);
  skb->tstamp = 0;
  return bpf_redirect_neigh(f->client_ifindex, 0, 0, 0);
}

SEC("tc")
int turnpike_ingress(struct __sk_buff* skb) {
  // Headers may sit outside the linear part on some drivers: pull what is parsed.
  const __u32 want = ETH_LEN + sizeof(struct ipv6hdr) + sizeof(struct udphdr) + CD_HEADER;
  if ((long)skb->data_end - (long)skb->data < want && skb->len > skb->data_end - skb->data)
    bpf_skb_pull_data(skb, skb->len < want ? skb->len : want);

  struct packet p;
  if (parse(skb, &p) < 0) return TC_ACT_UNSPEC;

  // RFC 8656 §12.4: ChannelData starts with the channel number; 0x4000-0x7FFF, the range user
  // space accepts too (core/attributes/channel_number.h: RFC 5766 clients use all of it).
  if (p.udp_len >= sizeof(struct udphdr) + CD_HEADER) {
    __u8 first[2];
    if (bpf_skb_load_bytes(skb, p.l4 + sizeof(struct udphdr), first, 2) == 0 &&
        (first[0] & 0xC0) == 0x40) {
      struct tp_client_key k = {};
      k.family = p.family;
      __builtin_memcpy(&k.channel, first, 2);
      k.client_port = p.sport;
      k.server_port = p.dport;
      __builtin_memcpy(k.client_ip, p.saddr, 16);
      __builtin_memcpy(k.server_ip, p.daddr, 16);
      __u32* slot = bpf_map_lookup_elem(&tp_client_index, &k);
      if (slot) {
        struct tp_flow* f = bpf_map_lookup_elem(&tp_flows, slot);
        if (f) return to_peer(skb, &p, f);
      }
    }
  }
  struct tp_peer_key k = {};
  k.family = p.family;
  k.peer_port = p.sport;
  k.relay_port = p.dport;
  __builtin_memcpy(k.peer_ip, p.saddr, 16);
  __builtin_memcpy(k.relay_ip, p.daddr, 16);
  __u32* slot = bpf_map_lookup_elem(&tp_peer_index, &k);
  if (!slot) return TC_ACT_UNSPEC;
  struct tp_flow* f = bpf_map_lookup_elem(&tp_flows, slot);
  if (!f) return TC_ACT_UNSPEC;
  return to_client(skb, &p, f);
}
