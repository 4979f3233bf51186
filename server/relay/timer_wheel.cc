#include "relay/timer_wheel.h"

namespace turnpike::relay {

void TimerHook::cancel() {
  if (wheel_) wheel_->unlink(*this);
}

TimerWheel::~TimerWheel() {
  for (uint32_t s = 0; s <= kSlots; ++s) {
    while (TimerHook* t = head(s)) unlink(*t);
  }
}

void TimerWheel::link(TimerHook& t, uint32_t slot) {
  TimerHook*& h = head(slot);
  t.wheel_ = this;
  t.slot_ = slot;
  t.prev_ = nullptr;
  t.next_ = h;
  if (h) h->prev_ = &t;
  h = &t;
  ++size_;
}

void TimerWheel::unlink(TimerHook& t) {
  if (t.prev_) {
    t.prev_->next_ = t.next_;
  } else {
    head(t.slot_) = t.next_;
  }
  if (t.next_) t.next_->prev_ = t.prev_;
  t.wheel_ = nullptr;
  t.prev_ = t.next_ = nullptr;
  --size_;
}

void TimerWheel::schedule(TimerHook& t, int64_t due_ms, int64_t now_ms) {
  start(now_ms);
  if (t.wheel_) unlink(t);
  t.due_ = due_ms;
  // A deadline in a tick already expired goes to the tick expire() looks at next.
  int64_t tick = tick_of(due_ms);
  if (tick < cursor_) tick = cursor_;
  link(t, uint32_t(tick) & (kSlots - 1));
}

void TimerWheel::collect(int64_t now_ms) {
  start(now_ms);
  const int64_t now_tick = tick_of(now_ms);
  if (now_tick < cursor_) return;
  // After a long pause every slot is looked at once, not once per missed tick.
  const int64_t last = now_tick - cursor_ >= int64_t(kSlots) ? cursor_ + kSlots - 1 : now_tick;
  for (int64_t tick = cursor_; tick <= last; ++tick) {
    const uint32_t slot = uint32_t(tick) & (kSlots - 1);
    for (TimerHook* t = slots_[slot]; t;) {
      TimerHook* next = t->next_;
      ++visits_;
      if (t->due_ <= now_ms) {
        unlink(*t);
        link(*t, kReady);
      }
      t = next;
    }
  }
  // The current tick is not over: what is due later in it is looked at again next time.
  cursor_ = now_tick;
}

}  // namespace turnpike::relay
