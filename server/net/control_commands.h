// What the control socket answers (README "Session control"): one function per command of
// turnpike-admin. status gives the figures /metrics gives (the same MetricsReport); disconnect
// ends allocations now, on their workers' threads, with end reason `disconnected`; drain starts
// draining (net/drain.h). Runs on the control server's thread.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "core/control_message.h"
#include "net/metrics_endpoint.h"
#include "net/relay_service.h"

namespace turnpike::net {

struct ControlCommandsOptions {
  RelayService* service = nullptr;     // not owned
  MetricsEndpoint* metrics = nullptr;  // not owned
  char separator = ':';                // rest-api-separator, for --user
  // Starts draining (the same as SIGUSR1); returns what the answer says. Null: not supported.
  std::function<std::string()> drain;
};

class ControlCommands {
 public:
  explicit ControlCommands(ControlCommandsOptions o) : o_(std::move(o)) {}
  core::ControlMessage handle(const core::ControlMessage& request);
  // Before the control server starts: one more command (the hand-over's `reload`, ...).
  using Command = std::function<core::ControlMessage(const core::ControlMessage&)>;
  void add_command(std::string name, Command c) { extra_[std::move(name)] = std::move(c); }

  // The status fields of a report (also what `turnpike-admin status --json` prints).
  static core::ControlMessage status(const MetricsReport& r);

 private:
  core::ControlMessage disconnect(const core::ControlMessage& request);
  ControlCommandsOptions o_;
  std::map<std::string, Command> extra_;
};

}  // namespace turnpike::net
