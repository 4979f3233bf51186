#include "net/service_notifier.h"

#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace turnpike::net {
namespace {

// STATUS= is one line of the message: a newline would start another field.
std::string one_line(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000u + uint64_t(ts.tv_nsec) / 1'000u;
}

}  // namespace

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket && *socket;
}

ServiceNotifier::~ServiceNotifier() {
  if (ready_sent_ && !stopping_sent_) stopping();
}

void ServiceNotifier::send(const std::string& message) {
  if (!enabled_) return;
  // unset_environment = 0: NOTIFY_SOCKET stays for a hand-over's new process.
  const int r = sd_notify(0, message.c_str());
  if (r > 0) {
    last_ = message;
    error_ = 0;
  } else {
    error_ = r < 0 ? -r : 0;
  }
}

void ServiceNotifier::ready(std::string_view status, bool claim_main_pid) {
  std::string m = "READY=1";
  if (claim_main_pid) m += "\nMAINPID=" + std::to_string(getpid());
  if (!status.empty()) m += "\nSTATUS=" + one_line(status);
  send(m);
  ready_sent_ = true;
}

void ServiceNotifier::reloading() {
  // sd_notify(3): "RELOADING=1 ... MONOTONIC_USEC= ... set to the current CLOCK_MONOTONIC time";
  // systemd compares it with the time it sent the reload signal.
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) +
       "\nSTATUS=reloading configuration and certificates");
}

void ServiceNotifier::status(std::string_view text) { send("STATUS=" + one_line(text)); }

void ServiceNotifier::stopping() {
  send("STOPPING=1\nSTATUS=stopping: closing every session");
  stopping_sent_ = true;
}

void ServiceNotifier::main_pid(pid_t pid) { send("MAINPID=" + std::to_string(pid)); }

void ServiceNotifier::handed_over(pid_t pid) {
  send("MAINPID=" + std::to_string(pid) + "\nSTATUS=handed over to process " +
       std::to_string(pid));
  stopping_sent_ = true;
}

std::string service_status_text(uint64_t allocations, size_t workers, std::string_view extra) {
  std::string s = std::to_string(allocations);
  s += allocations == 1 ? " allocation, " : " allocations, ";
  s += std::to_string(workers);
  s += workers == 1 ? " worker" : " workers";
  if (!extra.empty()) {
    s += ", ";
    s += extra;
  }
  return s;
}

}  // namespace turnpike::net
