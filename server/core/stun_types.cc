#include "core/stun_types.h"

namespace turnpike::core {

const char* method_name(Method m) {
  switch (m) {
    case Method::Binding:
      return "Binding";
    case Method::Allocate:
      return "Allocate";
    case Method::Refresh:
      return "Refresh";
    case Method::Send:
      return "Send";
    case Method::Data:
      return "Data";
    case Method::CreatePermission:
      return "CreatePermission";
    case Method::ChannelBind:
      return "ChannelBind";
    case Method::Connect:
      return "Connect";
    case Method::ConnectionBind:
      return "ConnectionBind";
    case Method::ConnectionAttempt:
      return "ConnectionAttempt";
  }
  return nullptr;
}

}  // namespace turnpike::core

namespace turnpike::core::error {

const char* reason_phrase(uint16_t code) {
  switch (code) {
    case TryAlternate:
      return "Try Alternate";
    case BadRequest:
      return "Bad Request";
    case Unauthorized:
      return "Unauthorized";
    case Forbidden:
      return "Forbidden";
    case UnknownAttribute:
      return "Unknown Attribute";
    case AllocationMismatch:
      return "Allocation Mismatch";
    case StaleNonce:
      return "Stale Nonce";
    case AddressFamilyNotSupported:
      return "Address Family not Supported";
    case WrongCredentials:
      return "Wrong Credentials";
    case UnsupportedTransportProtocol:
      return "Unsupported Transport Protocol";
    case PeerAddressFamilyMismatch:
      return "Peer Address Family Mismatch";
    case ConnectionAlreadyExists:
      return "Connection Already Exists";
    case ConnectionTimeoutOrFailure:
      return "Connection Timeout or Failure";
    case AllocationQuotaReached:
      return "Allocation Quota Reached";
    case ServerError:
      return "Server Error";
    case InsufficientCapacity:
      return "Insufficient Capacity";
    default:
      return "";
  }
}

}  // namespace turnpike::core::error
