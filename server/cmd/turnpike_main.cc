// turnpike: the STUN/TURN relay daemon.
#include <pwd.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <cstdio>
#include <cstring>
#include <cerrno>
#include <fstream>
#include <iostream>

#include "cmd/service_options.h"
#include "config/config_parser.h"
#include "config/secret_files.h"
#include "ledger/ledger_writer.h"
#include "net/control_commands.h"
#include "net/control_server.h"
#include "net/descriptor_limit.h"
#include "net/handover.h"
#include "net/drain.h"
#include "net/http_server.h"
#include "net/metrics_endpoint.h"
#include "net/log.h"
#include "net/privileges.h"
#include "net/relay_service.h"
#include "net/service_notifier.h"
#include "net/signal_loop.h"

using namespace turnpike;

namespace {

constexpr const char* kUsage =
    "usage: turnpike [-c FILE] [--option[=value] ...]\n"
    "\n"
    "A STUN/TURN relay (RFC 8489, 8656). The config file uses coturn's turnserver.conf syntax;\n"
    "every option can also be given on the command line, where it wins over the file.\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP or SIGUSR2 reload secrets, users, logs and\n"
    "the TLS certificate (new handshakes use the new one; sessions and connections go on);\n"
    "SIGURG hands over to a fresh copy of the binary (an upgrade): UDP allocations go on with\n"
    "their relayed addresses, TCP/TLS/DTLS clients are closed; a new binary or configuration\n"
    "that cannot take over leaves this process running, with the reason logged.\n"
    "SIGUSR1 drains: new allocations are refused (300 to alternate-server, else 403), running\n"
    "ones go on, and turnpike exits when the last ends or drain-timeout passes.\n"
    "control-socket (/run/turnpike/control) serves turnpike-admin status, disconnect, drain.\n"
    "Under systemd (NOTIFY_SOCKET set, Type=notify) it reports READY=1 once every listener is\n"
    "bound, RELOADING=1/READY=1 around a reload, STATUS= every 5 s, STOPPING=1, and MAINPID=\n"
    "of the process it hands over to.\n"
    "\n"
    "Listeners: UDP and TCP on listening-port; TLS on tls-listening-port when cert= is set (and\n"
    "DTLS there with dtls); mux-listening-port shares a TLS port such as 443 with a web server\n"
    "(mux-web-backend); tcp-proxy-port and tls-proxy-port expect a PROXY protocol header. Ports\n"
    "below 1024 and the key are taken as root, then proc-user/proc-group drop root.\n"
    "check-listening-port serves the check page of turnpike-admin check-link over HTTPS.\n"
    "prometheus serves /metrics (OpenMetrics), /health and /ready on prometheus-address\n"
    "(127.0.0.1) port prometheus-port (9641), plain HTTP.\n"
    "\n"
    "Options:\n";

std::string listeners_text(const net::ServiceOptions& o) {
  std::string s;
  for (const auto& a : o.udp_listeners) s += (s.empty() ? "" : ", ") + a.to_string() + "/udp";
  for (const auto& l : o.stream_listeners) s += (s.empty() ? "" : ", ") + l.describe();
  for (const auto& a : o.dtls_listeners) s += (s.empty() ? "" : ", ") + a.to_string() + "/dtls";
  return s.empty() ? "nothing" : s;
}

}  // namespace

int main(int argc_in, char** argv_in) {
  // --takeover=FD: this process was started by a running turnpike to take its place
  // (net/handover.h); every other argument is as that one was given.
  std::vector<std::string> args(argv_in + 1, argv_in + argc_in);
  const int takeover_fd = net::take_takeover_argument(args);
  std::vector<const char*> argv_list{argv_in[0]};
  for (const auto& a : args) argv_list.push_back(a.c_str());
  const int argc = int(argv_list.size());
  const char* const* argv = argv_list.data();
  std::unique_ptr<net::Takeover> takeover;
  if (takeover_fd >= 0) takeover = std::make_unique<net::Takeover>(takeover_fd);
  const std::string binary = net::own_binary_path();

  config::CommandLine cl = config::parse_command_line(argc, argv);
  if (takeover && (cl.error || cl.help || cl.version)) {
    takeover->refuse(cl.error ? "the new configuration: " + cl.error->to_string()
                              : std::string("--help or --version given"));
    if (cl.error) std::cerr << "turnpike: " << cl.error->to_string() << "\n";
    return 2;
  }
  if (cl.help) {
    std::cout << kUsage << config::options_help();
    return 0;
  }
  if (cl.version) {
    std::cout << "turnpike " TURNPIKE_VERSION "\n";
    return 0;
  }
  if (cl.error) {
    std::cerr << "turnpike: " << cl.error->to_string() << "\n";
    return 2;
  }
  config::Config cfg = std::move(*cl.config);
  // Before any thread exists (the ledger writer below is the first): SIGPIPE ignored, signals
  // blocked for every thread but the signal loop's.
  net::prepare_signals();

  net::LogOptions log_options{cfg.syslog && cfg.log_file.empty() ? "syslog" : cfg.log_file,
                              cfg.verbose};
  if (std::string err = net::configure_log(log_options); !err.empty()) {
    std::cerr << "turnpike: " << err << "\n";
    if (takeover) takeover->refuse(err);
    return 1;
  }
  // From here on no thread writes the log itself: lines go through queues to a logger thread,
  // which writes what is queued when main() returns, whichever way.
  const net::LogThreadScope log_thread;
  for (const auto& n : cfg.notices) net::log(net::LogLevel::Notice, n);
  for (const auto& w : config::exposed_secret_files(cfg)) net::log(net::LogLevel::Warning, w);
  // Every socket is a descriptor: the soft limit goes up to the hard one (the unit's LimitNOFILE).
  const net::DescriptorLimit fds = net::raise_descriptor_limit();
  // systemd's Type=notify (no-op when not started by it); STOPPING=1 when main() returns.
  net::ServiceNotifier notifier;

  // Taking over: the state and the sockets of the running process, once it knows the
  // configuration parsed.
  std::optional<core::HandoverState> handed;
  std::vector<net::UniqueFd> handed_fds;
  auto refuse = [&](const std::string& why) {
    net::log(net::LogLevel::Error, "cannot take over: ", why);
    takeover->refuse(why);
    return 1;
  };
  if (takeover) {
    std::string why;
    if (!takeover->ready()) return refuse("the link to the running process is gone");
    handed = takeover->receive(&handed_fds, &why);
    if (!handed) return refuse(why);
  }

  // The ledger writer starts before the workers and stops after them, so that every session's
  // last record is written.
  std::unique_ptr<ledger::LedgerWriter> ledger;
  if (!cfg.no_ledger) {
    ledger::WriterOptions ledger_options = cmd::make_ledger_options(cfg);
    if (handed) ledger_options.boot = handed->ledger_boot;  // the sessions keep their rows
    ledger = std::make_unique<ledger::LedgerWriter>(
        std::move(ledger_options), [](bool error, const std::string& m) {
          net::log(error ? net::LogLevel::Error : net::LogLevel::Notice, m);
        });
  }
  net::ServiceOptions options = cmd::make_service_options(cfg);
  if (!cfg.max_connections) options.max_connections = net::default_max_connections(fds.soft);
  net::log(fds.error.empty() ? net::LogLevel::Notice : net::LogLevel::Warning, fds.describe(),
           "; max-connections ", options.max_connections,
           cfg.max_connections ? "" : " (auto: half of it, the rest kept for UDP and peers)");
  cmd::discover_external_ip(cfg, options);
  options.ledger = ledger.get();
  net::RelayService service(options);
  if (std::string err = handed ? service.open_from(*handed, handed_fds) : service.open();
      !err.empty()) {
    if (takeover) return refuse(err);
    net::log(net::LogLevel::Error, err);
    return 1;
  }
  // The check page (turnpike-admin check-link), HTTPS with the relay's certificate, in a thread
  // of its own; bound before privileges are dropped.
  net::TlsContextsPtr check_tls = service.tls_contexts();
  std::unique_ptr<net::CheckPage> check_page;
  std::unique_ptr<net::HttpServer> check_server;
  if (cfg.check_listening_port) {
    check_server = std::make_unique<net::HttpServer>("check page");
    std::string err;
    if (!check_tls) check_tls = net::load_tls_contexts(cmd::make_tls_files(cfg), false, &err);
    if (!check_tls) {
      net::log(net::LogLevel::Error, err);
      return 1;
    }
    check_page = std::make_unique<net::CheckPage>(cmd::make_check_page_options(cfg));
    check_page->install(*check_server);
    for (const auto& a : cmd::check_page_addresses(cfg)) {
      // Taking over: the running process's socket on that address, if it had one.
      net::UniqueFd passed;
      if (handed) {
        for (const auto& l : handed->listeners) {
          if (l.kind == core::HandoverListenerKind::Http && l.address == a && handed_fds[l.fd])
            passed = std::move(handed_fds[l.fd]);
        }
      }
      const net::SslCtxShared ctx(check_tls, check_tls->tls.get());
      if (std::string e = passed ? check_server->adopt(std::move(passed), ctx)
                                 : check_server->listen(a, ctx);
          !e.empty()) {
        if (takeover) return refuse(e + " (check-listening-port)");
        net::log(net::LogLevel::Error, e, " (check-listening-port)");
        return 1;
      }
    }
  }
  // The pidfile is written while turnpike may still write where root may (/run), and given to
  // proc-user, whose hand-over successor (turnpike --takeover) writes its own pid into it.
  auto write_pidfile = [&] {
    if (cfg.pidfile.empty()) return;
    std::ofstream pid(cfg.pidfile, std::ios::trunc);
    pid << getpid() << "\n";
    if (!pid) net::log(net::LogLevel::Warning, "cannot write pidfile ", cfg.pidfile);
  };
  if (!takeover) {
    write_pidfile();
    if (!cfg.pidfile.empty() && !cfg.proc_user.empty() && geteuid() == 0) {
      if (const passwd* pw = getpwnam(cfg.proc_user.c_str())) {
        if (::chown(cfg.pidfile.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
          net::log(net::LogLevel::Warning, "cannot give pidfile ", cfg.pidfile, " to ",
                   cfg.proc_user, ": ", std::strerror(errno));
        }
      }
    }
  }
  // Draining (SIGUSR1, turnpike-admin drain): the signal loop stops when it is done.
  net::Drain drain(service, cfg.drain_timeout, nullptr);
  // Metrics and health, plain HTTP in a thread of their own; bound before privileges drop. The
  // same report answers turnpike-admin status on the control socket.
  net::MetricsEndpoint metrics(net::MetricsEndpointOptions{
      .service = &service,
      .ledger = ledger.get(),
      .ledger_path = cfg.no_ledger ? std::string() : cfg.ledger,
      .version = TURNPIKE_VERSION,
      .draining = [&drain] { return drain.draining(); },
  });
  std::unique_ptr<net::HttpServer> metrics_server;
  const core::SocketAddress metrics_address(cfg.prometheus_address, cfg.prometheus_port);
  if (cfg.prometheus) {
    metrics_server = std::make_unique<net::HttpServer>("metrics");
    metrics.install(*metrics_server);
    // In a hand-over the running process holds the port until it lets go: bound below, then.
    if (!takeover) {
      if (std::string e = metrics_server->listen(metrics_address); !e.empty()) {
        net::log(net::LogLevel::Error, e, " (prometheus-address, prometheus-port)");
        return 1;
      }
    }
  }
  // The control socket (turnpike-admin status, disconnect), made before privileges drop, with
  // group turnpike (or proc-group) so that its members may use it.
  net::ControlCommands control(net::ControlCommandsOptions{
      .service = &service,
      .metrics = &metrics,
      .separator = cfg.rest_api_separator,
      .drain = [&drain] { return drain.start(); },
  });
  std::unique_ptr<net::ControlServer> control_server;
  if (!cfg.control_socket.empty()) {
    control_server = std::make_unique<net::ControlServer>(
        [&control](const core::ControlMessage& m) { return control.handle(m); });
    const std::string group = cfg.proc_group.empty() ? "turnpike" : cfg.proc_group;
    if (std::string e = control_server->listen(cfg.control_socket, group, takeover != nullptr);
        !e.empty()) {
      if (cfg.sites.count("control-socket")) {
        net::log(net::LogLevel::Error, e);
        return 1;
      }
      // The default path needs /run/turnpike (root, or systemd's RuntimeDirectory=): without
      // it the relay runs, and turnpike-admin's live commands are not available.
      net::log(net::LogLevel::Warning, e,
               "; going on without a control socket (set control-socket=PATH, or =none)");
      control_server.reset();
    }
  }
  // The kernel fast path may need capabilities to go on as proc-user (kernel_offload.h).
  const std::vector<unsigned> keep =
      service.offload() && !cfg.proc_user.empty() ? service.offload()->needed_capabilities()
                                                  : std::vector<unsigned>{};
  if (std::string err = net::drop_privileges(cfg.proc_user, cfg.proc_group, keep); !err.empty()) {
    if (takeover) return refuse(err);
    net::log(net::LogLevel::Error, err);
    return 1;
  }
  if (!keep.empty()) {
    std::string names;
    for (unsigned cap : keep) names += std::string(names.empty() ? "" : " and ") + (cap == 12 ? "CAP_NET_ADMIN" : "CAP_BPF");
    net::log(net::LogLevel::Notice, "proc-user ", cfg.proc_user, " keeps ", names,
             " for the kernel offload (this kernel needs it for map updates or detaching)");
  }
  if (takeover) {
    // Everything is restored: the workers relay at once (the old ones wait, stopped), the ledger
    // records once the old process has written its own.
    if (!takeover->accept()) return refuse("the link to the running process is gone");
    service.start();
    takeover->wait_go();
    if (ledger) ledger->start();
    write_pidfile();
    net::log(net::LogLevel::Notice, "took over ", handed->allocations.size(),
             " allocation(s) and ", handed->listeners.size(), " listening socket(s)");
    handed_fds.clear();  // what was not taken (nothing, normally)
    if (metrics_server) {
      // The old process closes its metrics port as it exits, just after letting go.
      std::string e;
      for (int i = 0; i < 100; ++i) {
        e = metrics_server->listen(metrics_address);
        if (e.empty()) break;
        ::usleep(50'000);
      }
      if (!e.empty()) {
        net::log(net::LogLevel::Error, e, " (prometheus-address, prometheus-port): no metrics");
        metrics_server.reset();
      }
    }
  } else {
    if (ledger) ledger->start();
    service.start();
  }
  if (check_page) {
    check_server->start();
    std::string where;
    for (size_t i = 0; i < check_server->listener_count(); ++i) {
      where += (where.empty() ? "" : ", ") + check_server->bound(i).to_string();
    }
    net::log(net::LogLevel::Notice, "check page on https://", where, "/turnpike-check/");
  }
  if (control_server) {
    control_server->start();
    net::log(net::LogLevel::Notice, "control socket ", control_server->path());
  }
  if (metrics_server) {
    metrics_server->start();
    net::log(net::LogLevel::Notice, "metrics on http://", metrics_server->bound(0).to_string(),
             "/metrics (also /health, /ready)");
  }
  net::log(net::LogLevel::Notice, "turnpike ready: ", listeners_text(options), ", ",
           options.threads, " worker(s), relay ports ", cfg.min_port, "-", cfg.max_port, ", realm ",
           cfg.realm);
  // What `systemctl status` shows, from counters the workers keep anyway (read here, on the
  // main thread).
  const auto status_text = [&] {
    return net::service_status_text(service.allocations(), service.worker_count());
  };
  // Every listener (relay and check page) is bound and the workers run. A process that took
  // over names itself the unit's main process (the old one also says so, with MAINPID=).
  notifier.ready(status_text(), /*claim_main_pid=*/takeover != nullptr);

  const std::string config_file = cfg.source;
  pid_t successor = -1;
  const auto hand_over = [&] {
    net::HandoverOptions ho;
    ho.binary = binary;
    ho.args = args;
    if (check_server) {
      for (size_t i = 0; i < check_server->listener_count(); ++i)
        ho.http_listeners.emplace_back(check_server->bound(i), check_server->listening_fd(i));
    }
    successor = net::hand_over(service, ledger.get(), ho);
    return successor > 0;
  };
  const auto reload = [&] {
    net::reopen_log();
    // Re-read the file (if any), then re-apply the command line on top, as at start.
    config::CommandLine again = config::parse_command_line(argc, argv);
    if (again.error) {
      net::log(net::LogLevel::Error,
               "reload failed, keeping the running configuration: ", again.error->to_string());
      return;
    }
    if (!config_file.empty() && config_file != "command line") {
      service.update_credentials(cmd::make_credentials(*again.config));
      if (check_page) {
        check_server->post([page = check_page.get(), secrets = again.config->static_auth_secrets] {
          page->set_secrets(secrets);
        });
      }
      net::log(net::LogLevel::Notice, "reloaded ", config_file, ": ",
               again.config->static_auth_secrets.size(), " secret(s), ", again.config->users.size(),
               " user(s), realm ", again.config->realm);
    }
    // Certificates are re-read too (a renewed Let's Encrypt certificate); a broken one is
    // refused and the running one stays.
    if (service.uses_tls()) {
      std::string description;
      if (std::string err = service.reload_tls(cmd::make_tls_files(*again.config), &description);
          !err.empty()) {
        net::log(net::LogLevel::Error, "certificate reload failed, new TLS handshakes keep using ",
                 service.tls_description(), ": ", err);
      } else {
        net::log(net::LogLevel::Notice, "reloaded TLS certificate ", again.config->cert, ": ",
                 description);
        if (check_page) {
          check_tls = service.tls_contexts();
          for (size_t i = 0; i < check_server->listener_count(); ++i) {
            check_server->set_tls(i, net::SslCtxShared(check_tls, check_tls->tls.get()));
          }
        }
      }
    }
  };
  net::run_signal_loop({.reload =
                            [&] {
                              notifier.reloading();
                              reload();
                              notifier.ready(status_text());
                            },
                        .hand_over = hand_over,
                        .drain = [&] { drain.start(); },
                        .every_second = [&] { return drain.tick(); },
                        .tick = [&] { notifier.status(status_text()); },
                        .tick_seconds = notifier.enabled() ? 5u : 0u});

  if (successor > 0) {
    // The workers stopped and the ledger was written in hand_over(); the pidfile is the new
    // process's now, and so is the unit (MAINPID=; no STOPPING=1 from here).
    notifier.handed_over(successor);
    if (check_server) check_server->stop();
    if (metrics_server) metrics_server->stop();
    if (control_server) control_server->stop();  // the socket file is the new process's now
    net::log(net::LogLevel::Notice, "turnpike handed over to process ", successor);
    return 0;
  }
  notifier.stopping();
  net::log(net::LogLevel::Notice, "stopping: closing every session");
  if (check_server) check_server->stop();
  if (metrics_server) metrics_server->stop();
  if (control_server) control_server->stop();
  service.stop();
  if (ledger) {
    ledger->stop();
    const auto st = ledger->stats();
    std::string kinds;
    for (size_t k = 0; k < ledger::kEventKinds; ++k) {
      if (st.dropped_by_kind[k] == 0) continue;
      kinds += std::string(kinds.empty() ? " (" : ", ") +
               ledger::event_kind_name(ledger::EventKind(k)) + " " +
               std::to_string(st.dropped_by_kind[k]);
    }
    net::log(net::LogLevel::Notice, "ledger: ", st.written, " event(s) written, ", st.dropped,
             " dropped", kinds.empty() ? "" : kinds + ")");
  }
  if (!cfg.pidfile.empty()) ::unlink(cfg.pidfile.c_str());
  if (const uint64_t lost = net::log_lines_dropped())
    net::log(net::LogLevel::Warning, "log: ", lost, " line(s) dropped in all");
  net::log(net::LogLevel::Notice, "turnpike stopped");
  return 0;
}
