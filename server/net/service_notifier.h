// The service manager's notification protocol (sd_notify(3), libsystemd): tells systemd when
// turnpike is ready (Type=notify), reloading, stopping, and what it is doing (STATUS=, shown by
// `systemctl status`). Without NOTIFY_SOCKET in the environment (not started by systemd, or by a
// unit of another type) every call is a no-op.
//
// Main thread only, never on a worker's relay path: each message is one datagram on a unix
// socket that libsystemd opens and closes per call.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace turnpike::net {

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET once. The variable stays in the environment (a hand-over to a new copy
  // of turnpike passes it on, so that the new process can notify the same unit).
  ServiceNotifier();
  // Sends STOPPING=1 if READY=1 was sent and stopping() was not called: whichever way main()
  // leaves, systemd learns that the service is going away.
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // Whether a service manager listens (NOTIFY_SOCKET is set).
  bool enabled() const { return enabled_; }

  // READY=1, with STATUS=: after every listener is bound and the workers run. With
  // claim_main_pid (a process that took over from another), MAINPID= this process too; systemd
  // accepts that from a process other than the main one only with NotifyAccess=all.
  void ready(std::string_view status, bool claim_main_pid = false);
  // RELOADING=1 with MONOTONIC_USEC= (systemd 253's Type=notify-reload protocol; older systemd
  // ignores the fields it does not know): at the start of a SIGHUP reload. ready() ends it.
  void reloading();
  // STATUS=text (one line: newlines become spaces).
  void status(std::string_view text);
  // STOPPING=1: graceful stop begins.
  void stopping();
  // MAINPID=pid: another process (a hand-over's new copy) becomes the unit's main process.
  void main_pid(pid_t pid);
  // After a hand-over to `pid`: MAINPID=pid with a STATUS=, and no STOPPING=1 from this
  // process (the service goes on in the other one).
  void handed_over(pid_t pid);

  // The last message this object sent successfully, for tests and logs ("" if none).
  const std::string& last_sent() const { return last_; }
  // sd_notify's error of the last failed send (0 when it worked or nothing was sent).
  int last_error() const { return error_; }

 private:
  void send(const std::string& message);

  bool enabled_ = false;
  bool ready_sent_ = false;
  bool stopping_sent_ = false;
  std::string last_;
  int error_ = 0;
};

// One STATUS= line: "N allocation(s), M worker(s)" plus `extra` (", ..."-joined) when given.
std::string service_status_text(uint64_t allocations, size_t workers, std::string_view extra = {});

}  // namespace turnpike::net
