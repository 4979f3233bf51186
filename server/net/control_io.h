// Blocking, time-limited I/O of control messages (core/control_message.h) on a unix stream
// socket: the control server's thread (net/control_server.h) and turnpike-admin use it. No
// libevent: turnpike-admin links this alone (library turnpike_control_io).
#pragma once

#include <sys/un.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/control_message.h"

namespace turnpike::net {

bool make_address(const std::string& path, sockaddr_un* a, std::string* error);
std::optional<core::ControlMessage> read_message(int fd,
                                                 std::chrono::steady_clock::time_point deadline,
                                                 std::string* error);
bool write_all(int fd, const std::vector<uint8_t>& data,
               std::chrono::steady_clock::time_point deadline);

// turnpike-admin's side: sends `request` to the socket at `path` and waits up to `timeout_ms` for
// the answer. On failure std::nullopt, and `error` says what to do (no such socket: is turnpike
// running with this config?; permission: root or the group turnpike).
std::optional<core::ControlMessage> control_request(const std::string& path,
                                                    const core::ControlMessage& request,
                                                    int timeout_ms, std::string* error);

}  // namespace turnpike::net
