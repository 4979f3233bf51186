#include "net/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

namespace turnpike::net {

Mailbox::Mailbox(event_base* base) : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  ev_.reset(event_new(base, fd_.get(), EV_READ | EV_PERSIST, &Mailbox::on_wake, this));
  event_add(ev_.get(), nullptr);
}

void Mailbox::post(Job job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  const uint64_t one = 1;
  const ssize_t n = ::write(fd_.get(), &one, sizeof one);
  (void)n;  // the counter only overflows after 2^64 - 1 unread posts
}

void Mailbox::on_wake(evutil_socket_t fd, short, void* arg) {
  auto* m = static_cast<Mailbox*>(arg);
  uint64_t count;
  const ssize_t n = ::read(fd, &count, sizeof count);
  (void)n;
  std::vector<Job> jobs;
  {
    std::lock_guard lock(m->mu_);
    jobs.swap(m->jobs_);
  }
  for (auto& j : jobs) j();
}

}  // namespace turnpike::net
