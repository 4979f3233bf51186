#include "net/handover.h"

#include <signal.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "net/log.h"

namespace turnpike::net {
namespace {

void reap(pid_t pid) {
  // The new process says why it refused and exits; one that hangs is stopped.
  for (int i = 0; i < 50; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    ::usleep(20'000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace

pid_t hand_over(RelayService& service, ledger::LedgerWriter* ledger, const HandoverOptions& o) {
  std::string why;
  log(LogLevel::Notice, "hand-over: starting ", o.binary);
  std::optional<Successor> next = spawn_successor(o.binary, o.args, &why);
  if (!next) {
    log(LogLevel::Error, "hand-over not started, relaying goes on: ", why);
    return -1;
  }
  auto fail = [&](const std::string& reason) {
    log(LogLevel::Error, "hand-over refused, relaying goes on here: ", reason);
    reap(next->pid);
    return pid_t(-1);
  };
  auto m = next->link.receive(o.ready_timeout_ms, nullptr, &why);
  if (!m) return fail("the new process (" + o.binary + ") did not start: " + why);
  if (m->step == core::HandoverStep::Refused) return fail(m->text);
  if (m->step != core::HandoverStep::Ready) {
    return fail(std::string("expected ready, got ") + core::handover_step_name(m->step));
  }
  if (m->value < core::kHandoverVersion) {
    next->link.send({core::HandoverStep::Refused, 0, "state version too new"});
    return fail("the new binary reads hand-over state up to version " + std::to_string(m->value) +
                ", this one writes " + std::to_string(core::kHandoverVersion) +
                ": restart turnpike instead");
  }
  // From here until resume() or release() no worker relays; packets wait in socket buffers.
  core::HandoverState state;
  std::vector<int> fds;
  service.quiesce(state, fds);
  if (ledger) state.ledger_boot = ledger->boot();
  for (const auto& [address, fd] : o.http_listeners) {
    state.listeners.push_back(
        {core::HandoverListenerKind::Http, false, 0, address, uint32_t(fds.size())});
    fds.push_back(fd);
  }
  state.fd_count = uint32_t(fds.size());
  if (!next->link.send_state(state, fds, &why)) {
    service.resume();
    return fail(why);
  }
  m = next->link.receive(o.accept_timeout_ms, nullptr, &why);
  if (!m || m->step != core::HandoverStep::Accepted) {
    service.resume();
    return fail(!m ? why
                : m->step == core::HandoverStep::Refused
                    ? m->text
                    : std::string("expected accepted, got ") + core::handover_step_name(m->step));
  }
  const pid_t pid = next->pid;
  // Under systemd the service's main process is the new one from now on: told before this one
  // exits, or systemd would take the exit for the service's end (a no-op without systemd).
  sd_notifyf(0, "MAINPID=%d", int(pid));
  // The new process relays. This one lets go, writes its ledger, then tells it to record.
  service.release();
  if (ledger) ledger->stop();
  next->link.send({core::HandoverStep::Go, 0, {}});
  log(LogLevel::Notice, "hand-over: process ", pid, " took over ", state.allocations.size(),
      " allocation(s) and ", state.listeners.size(), " listening socket(s)");
  return pid;
}

void Takeover::refuse(const std::string& why) {
  link_.send({core::HandoverStep::Refused, 0, why});
}

bool Takeover::ready() {
  return link_.send({core::HandoverStep::Ready, core::kHandoverVersion, {}});
}

std::optional<core::HandoverState> Takeover::receive(std::vector<UniqueFd>* fds, std::string* why) {
  uint16_t version = core::kHandoverVersion;
  if (const char* v = std::getenv("TURNPIKE_TAKEOVER_MAX_VERSION"))
    version = uint16_t(std::atoi(v));
  bool refused_version = false;
  return link_.receive_state(30'000, version, fds, why, &refused_version);
}

bool Takeover::accept() {
  return link_.send({core::HandoverStep::Accepted, uint32_t(::getpid()), {}});
}

void Takeover::wait_go() {
  std::string why;
  // Go, or the end of the link (the old process is gone): either way it has let go.
  link_.receive(60'000, nullptr, &why);
}

int take_takeover_argument(std::vector<std::string>& args) {
  int fd = -1;
  for (auto it = args.begin(); it != args.end();) {
    if (it->rfind("--takeover=", 0) == 0) {
      fd = std::atoi(it->c_str() + 11);
      it = args.erase(it);
    } else {
      ++it;
    }
  }
  return fd;
}

}  // namespace turnpike::net
