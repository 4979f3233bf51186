// STUN/TURN message types, attribute types and error codes.
//   RFC 8489 §5 (message structure), §18.3 (attribute registry), §14.8 (error codes)
//   RFC 8656 §17-18 (TURN methods, attributes and error codes), RFC 6062 §6 (TCP relay)
#pragma once

#include <cstdint>

namespace turnpike::core {

// RFC 8489 §5: the 20-byte header and the fixed magic cookie.
constexpr uint32_t kMagicCookie = 0x2112A442;
constexpr uint32_t kHeaderSize = 20;
constexpr uint32_t kTransactionIdSize = 12;

enum class Method : uint16_t {
  Binding = 0x001,
  Allocate = 0x003,  // RFC 8656 §18
  Refresh = 0x004,
  Send = 0x006,
  Data = 0x007,
  CreatePermission = 0x008,
  ChannelBind = 0x009,
  Connect = 0x00A,  // RFC 6062 §6.1
  ConnectionBind = 0x00B,
  ConnectionAttempt = 0x00C,
};

enum class MessageClass : uint8_t { Request = 0, Indication = 1, Success = 2, Error = 3 };

// "Binding", "Allocate", ... as the RFCs name the method; nullptr for a method not listed above.
const char* method_name(Method m);

// RFC 8489 §5: the class bits C1 C0 are interleaved with the 12 method bits M11..M0 as
//   M11 M10 M9 M8 M7 C1 M6 M5 M4 C0 M3 M2 M1 M0
constexpr uint16_t message_type(Method m, MessageClass c) {
  const uint16_t mv = uint16_t(m);
  const uint16_t cv = uint16_t(c);
  return uint16_t((mv & 0x000F) | ((mv & 0x0070) << 1) | ((mv & 0x0F80) << 2) | ((cv & 0x1) << 4) |
                  ((cv & 0x2) << 7));
}
constexpr Method method_of(uint16_t type) {
  return Method((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}
constexpr MessageClass class_of(uint16_t type) {
  return MessageClass(((type >> 4) & 0x1) | ((type >> 7) & 0x2));
}

namespace attr {
// Comprehension-required (0x0000-0x7FFF).
constexpr uint16_t MappedAddress = 0x0001;
constexpr uint16_t Username = 0x0006;
constexpr uint16_t MessageIntegrity = 0x0008;
constexpr uint16_t ErrorCode = 0x0009;
constexpr uint16_t UnknownAttributes = 0x000A;
constexpr uint16_t ChannelNumber = 0x000C;   // RFC 8656 §18.1
constexpr uint16_t Lifetime = 0x000D;        // RFC 8656 §18.2
constexpr uint16_t XorPeerAddress = 0x0012;  // RFC 8656 §18.3
constexpr uint16_t Data = 0x0013;            // RFC 8656 §18.4
constexpr uint16_t Realm = 0x0014;
constexpr uint16_t Nonce = 0x0015;
constexpr uint16_t XorRelayedAddress = 0x0016;       // RFC 8656 §18.5
constexpr uint16_t RequestedAddressFamily = 0x0017;  // RFC 8656 §18.6
constexpr uint16_t EvenPort = 0x0018;                // RFC 8656 §18.7
constexpr uint16_t RequestedTransport = 0x0019;      // RFC 8656 §18.8
constexpr uint16_t DontFragment = 0x001A;            // RFC 8656 §18.9
constexpr uint16_t MessageIntegritySha256 = 0x001C;  // RFC 8489 §14.6
constexpr uint16_t PasswordAlgorithm = 0x001D;       // RFC 8489 §14.12
constexpr uint16_t Userhash = 0x001E;                // RFC 8489 §14.4
constexpr uint16_t XorMappedAddress = 0x0020;
constexpr uint16_t ReservationToken = 0x0022;  // RFC 8656 §18.10
constexpr uint16_t Priority = 0x0024;          // RFC 8445 (ICE)
constexpr uint16_t UseCandidate = 0x0025;
constexpr uint16_t ConnectionId = 0x002A;  // RFC 6062 §6.2.1
// Comprehension-optional (0x8000-0xFFFF).
constexpr uint16_t AdditionalAddressFamily = 0x8000;  // RFC 8656 §18.11
constexpr uint16_t AddressErrorCode = 0x8001;         // RFC 8656 §18.12
constexpr uint16_t PasswordAlgorithms = 0x8002;       // RFC 8489 §14.11
constexpr uint16_t AlternateDomain = 0x8003;
constexpr uint16_t Icmp = 0x8004;  // RFC 8656 §18.13
constexpr uint16_t Software = 0x8022;
constexpr uint16_t AlternateServer = 0x8023;
constexpr uint16_t Fingerprint = 0x8028;
constexpr uint16_t IceControlled = 0x8029;
constexpr uint16_t IceControlling = 0x802A;

constexpr bool comprehension_required(uint16_t type) {
  return type < 0x8000;
}
}  // namespace attr

// Error codes (RFC 8489 §14.8, RFC 8656 §19, RFC 6062 §6.3).
namespace error {
constexpr uint16_t TryAlternate = 300;
constexpr uint16_t BadRequest = 400;
constexpr uint16_t Unauthorized = 401;
constexpr uint16_t Forbidden = 403;
constexpr uint16_t UnknownAttribute = 420;
constexpr uint16_t AllocationMismatch = 437;
constexpr uint16_t StaleNonce = 438;
constexpr uint16_t AddressFamilyNotSupported = 440;
constexpr uint16_t WrongCredentials = 441;
constexpr uint16_t UnsupportedTransportProtocol = 442;
constexpr uint16_t PeerAddressFamilyMismatch = 443;
constexpr uint16_t ConnectionAlreadyExists = 446;
constexpr uint16_t ConnectionTimeoutOrFailure = 447;
constexpr uint16_t AllocationQuotaReached = 486;
constexpr uint16_t ServerError = 500;
constexpr uint16_t InsufficientCapacity = 508;

// The reason phrases the RFCs recommend. Sent only to authenticated clients (see relay/server.cc).
const char* reason_phrase(uint16_t code);
}  // namespace error

// IANA protocol numbers used by REQUESTED-TRANSPORT (RFC 8656 §18.8).
constexpr uint8_t kProtocolUdp = 17;
constexpr uint8_t kProtocolTcp = 6;

// Address family codes used by XOR-*-ADDRESS and REQUESTED-ADDRESS-FAMILY (RFC 8489 §14.1).
constexpr uint8_t kFamilyIpv4 = 0x01;
constexpr uint8_t kFamilyIpv6 = 0x02;

}  // namespace turnpike::core
