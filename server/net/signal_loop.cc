#include "net/signal_loop.h"

#include <pthread.h>
#include <signal.h>

#include "net/libevent_ptr.h"

namespace turnpike::net {
namespace {

struct Context {
  event_base* base;
  const SignalHandlers* handlers;
};

void on_stop(evutil_socket_t, short, void* arg) {
  event_base_loopexit(static_cast<Context*>(arg)->base, nullptr);
}

void on_reload(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Context*>(arg);
  if (c->handlers->reload) c->handlers->reload();
}

void on_hand_over(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Context*>(arg);
  if (c->handlers->hand_over && c->handlers->hand_over()) event_base_loopexit(c->base, nullptr);
}

void on_drain(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Context*>(arg);
  if (c->handlers->drain) c->handlers->drain();
}

void on_second(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Context*>(arg);
  if (c->handlers->every_second && c->handlers->every_second()) event_base_loopexit(c->base, nullptr);
}

void on_tick(evutil_socket_t, short, void* arg) {
  static_cast<Context*>(arg)->handlers->tick();
}

}  // namespace

void prepare_signals() {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

void run_signal_loop(const SignalHandlers& h) {
  ::signal(SIGPIPE, SIG_IGN);
  EventBasePtr base(event_base_new());
  Context ctx{base.get(), &h};
  EventPtr term(evsignal_new(base.get(), SIGTERM, on_stop, &ctx));
  EventPtr intr(evsignal_new(base.get(), SIGINT, on_stop, &ctx));
  EventPtr hup(evsignal_new(base.get(), SIGHUP, on_reload, &ctx));
  EventPtr usr2(evsignal_new(base.get(), SIGUSR2, on_reload, &ctx));
  EventPtr urg(evsignal_new(base.get(), SIGURG, on_hand_over, &ctx));
  EventPtr usr1(evsignal_new(base.get(), SIGUSR1, on_drain, &ctx));
  for (event* e : {term.get(), intr.get(), hup.get(), usr2.get(), urg.get(), usr1.get()})
    event_add(e, nullptr);
  EventPtr second(event_new(base.get(), -1, EV_PERSIST, on_second, &ctx));
  const timeval one_second{1, 0};
  if (h.every_second) event_add(second.get(), &one_second);
  EventPtr tick;
  if (h.tick && h.tick_seconds) {
    tick.reset(event_new(base.get(), -1, EV_PERSIST, on_tick, &ctx));
    const timeval every{time_t(h.tick_seconds), 0};
    event_add(tick.get(), &every);
  }
  // The handlers are in place: signals blocked since prepare_signals() (and any pending one)
  // reach this thread now, and only this one.
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
  event_base_dispatch(base.get());
}

}  // namespace turnpike::net
