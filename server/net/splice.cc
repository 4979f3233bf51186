#include "net/splice.h"

#include <utility>

namespace turnpike::net {

Splice::Splice(StreamLoop& loop, Owner& owner, std::unique_ptr<Stream> a, std::unique_ptr<Stream> b,
               const Options& o)
    : loop_(loop), owner_(owner), o_(o) {
  a_.s = std::move(a);
  a_.name = o.a_name;
  b_.s = std::move(b);
  b_.name = o.b_name;
}

Splice::~Splice() {
  stop();
}

bool Splice::start(int64_t now_ms) {
  now_ms_ = quiet_ms_ = a_.stalled_ms = b_.stalled_ms = now_ms;
  for (Side* x : {&a_, &b_}) {
    if (x->s->attached()) {
      x->s->set_handler(*this);
    } else if (!x->s->attach(loop_, *this)) {
      end("out of memory");
      return false;
    }
  }
  // What each side sent before the splice existed goes first.
  move(a_, b_);
  if (!over_) move(b_, a_);
  return !over_;
}

void Splice::stop() {
  if (a_.s) a_.s->close_now();
  if (b_.s) b_.s->close_now();
  over_ = true;
}

void Splice::stream_readable(Stream& s) {
  Side& from = side(s);
  move(from, other(from));
}

void Splice::stream_writable(Stream& s) {
  // `s` has room again (or sent everything, or its FIN): take more of what waits for it.
  Side& to = side(s);
  move(other(to), to);
  check_finished();
}

void Splice::stream_failed(Stream& s, const std::string& why) {
  end(std::string(side(s).name) + ": " + why);
}

void Splice::move(Side& from, Side& to) {
  if (over_) return;
  const core::Bytes d = from.s->input();
  if (!d.empty()) {
    // What does not fit stays in `from`, whose reading stops once its input is full: TCP flow
    // control holds that sender until `to` took half of its queue (stream_writable()).
    const size_t n = to.s->write_some(d);
    if (n) {
      from.s->consume(n);
      if (&from == &a_) {
        a_to_b_ += n;
        owner_.relayed(n, 0);
      } else {
        b_to_a_ += n;
        owner_.relayed(0, n);
      }
    }
  }
  if (over_ || !from.s->read_ended()) return;
  if (o_.end == End::Together && !draining_) {
    // RFC 6062: when one side of the pair closes, the other is closed too, once it got what
    // was buffered for it (within the drain deadline, counted from the close).
    draining_ = true;
    drain_reason_ = std::string("closed by the ") + from.name;
    drain_deadline_ms_ = now_ms_ + o_.drain_ms;
    a_.s->pause_reading(true);
    b_.s->pause_reading(true);
  }
  if (!from.done && from.s->input().empty()) side_ended(from, to);
}

void Splice::side_ended(Side& from, Side& to) {
  from.done = true;
  if (o_.end == End::HalfClose) {
    // The end of one direction only: `to` gets a FIN after what is queued for it.
    to.s->shutdown_write();
    quiet_ms_ = now_ms_;
  } else {
    to.s->notify_when_drained();
  }
  check_finished();
}

void Splice::check_finished() {
  if (over_) return;
  if (o_.end == End::Together) {
    if (!draining_) return;
    if ((a_.done && b_.s->output_pending() == 0) || (b_.done && a_.s->output_pending() == 0))
      end(drain_reason_);
    return;
  }
  if (a_.done && b_.done && a_.s->write_shut() && b_.s->write_shut()) {
    end("closed by both sides");
  }
}

void Splice::tick(int64_t now_ms) {
  now_ms_ = now_ms;
  if (over_) return;
  if (o_.end == End::Together) {
    if (draining_ && now_ms >= drain_deadline_ms_)
      end(drain_reason_ + " (the other side did not take what was left)");
    return;
  }
  // A side that bytes wait for and that takes none of them ...
  for (Side* x : {&a_, &b_}) {
    const uint64_t sent = x->s->counters().bytes_out;
    if (x->s->output_pending() == 0 || sent != x->sent_seen) {
      x->sent_seen = sent;
      x->stalled_ms = now_ms;
    } else if (now_ms - x->stalled_ms >= o_.drain_ms) {
      end(std::string("the ") + x->name + " took nothing for " +
          std::to_string(o_.drain_ms / 1000) + " s (drain deadline)");
      return;
    }
  }
  // ... or a half-closed connection on which nothing moves.
  const uint64_t moved = a_to_b_ + b_to_a_;
  if (!(a_.done || b_.done) || moved != moved_seen_) {
    moved_seen_ = moved;
    quiet_ms_ = now_ms;
  } else if (now_ms - quiet_ms_ >= o_.drain_ms) {
    end(std::string("half-closed by the ") + (a_.done ? a_.name : b_.name) +
        ", nothing moved for " + std::to_string(o_.drain_ms / 1000) + " s (drain deadline)");
  }
}

void Splice::end(const std::string& why) {
  if (over_) return;
  stop();
  owner_.ended(why);
}

}  // namespace turnpike::net
