/* The memory layout shared by the TC program (channel_relay.bpf.c) and user space (flow_table.cc,
 * kernel_offload.cc): the two index keys, the flow slot, the statistics. Plain C, so that both
 * compilers read the same definitions; every field has a fixed offset (explicit padding), and
 * addresses and ports are in network byte order, as they are in the packet. DESIGN.md "Kernel fast
 * path". */
#ifndef TURNPIKE_NET_OFFLOAD_FLOW_LAYOUT_H
#define TURNPIKE_NET_OFFLOAD_FLOW_LAYOUT_H

#include <linux/types.h>

#define TP_FAMILY_V4 4
#define TP_FAMILY_V6 6

/* Datagrams with a larger UDP payload are left to user space (net/udp.h RecvBatch::kMaxPayload). */
#define TP_MAX_PAYLOAD 4096

/* The program relays only while the daemon's heartbeat is at most this old (nanoseconds). */
#define TP_HEARTBEAT_NS 3000000000ULL

/* Client side: a ChannelData message from the client's 5-tuple for one channel. An IPv4 address
 * fills the first 4 bytes of its 16, the rest is zero. */
struct tp_client_key {
  __u8 family; /* TP_FAMILY_V4 or TP_FAMILY_V6 */
  __u8 pad0;
  __be16 channel;
  __be16 client_port;
  __be16 server_port;
  __u8 client_ip[16];
  __u8 server_ip[16];
};

/* Peer side: a datagram from the peer to the relayed address. */
struct tp_peer_key {
  __u8 family;
  __u8 pad0;
  __be16 peer_port;
  __be16 relay_port;
  __be16 pad1;
  __u8 peer_ip[16];
  __u8 relay_ip[16];
};

/* One channel binding in the kernel. User space writes the first part before any index entry
 * points at the slot and changes only `expires_ns` while it is in use; the program adds to the
 * counters (atomically: one flow's packets may be handled on several CPUs). */
struct tp_flow {
  __u8 family;
  __u8 pad0;
  __be16 channel;
  __u32 client_ifindex; /* where packets to the client leave */
  __u32 peer_ifindex;   /* where packets to the peer leave */
  __be16 client_port;
  __be16 server_port;
  __be16 relay_port;
  __be16 peer_port;
  __u8 client_ip[16];
  __u8 server_ip[16];
  __u8 relay_ip[16];
  __u8 peer_ip[16];
  __u32 pad1;
  __u64 expires_ns; /* CLOCK_MONOTONIC; relayed only before it (0: retired) */
  __u64 to_peer_packets;
  __u64 to_peer_bytes; /* ChannelData payload, without header and padding */
  __u64 to_client_packets;
  __u64 to_client_bytes; /* the peer's UDP payload */
};

/* Per-CPU statistics: what the program relayed, and why it left packets to user space. */
enum tp_stat {
  TP_STAT_TO_PEER = 0,   /* relayed client -> peer */
  TP_STAT_TO_CLIENT,     /* relayed peer -> client */
  TP_STAT_EXPIRED,       /* a flow matched after its deadline */
  TP_STAT_HEARTBEAT,     /* a flow matched but the daemon's heartbeat is stale */
  TP_STAT_MALFORMED,     /* ChannelData shorter than its length, or padding longer than 3 */
  TP_STAT_TOO_BIG,       /* payload above TP_MAX_PAYLOAD, or above the outgoing interface's MTU */
  TP_STAT_TTL,           /* TTL / hop limit 0 or 1 */
  TP_STAT_GSO,           /* a flow matched a GSO super-packet (the stack segments it) */
  TP_STAT_FAILED,        /* a helper failed in the middle of a rewrite: the packet was dropped */
  TP_STAT_COUNT
};

#endif
