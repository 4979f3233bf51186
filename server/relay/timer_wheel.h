// Deadlines of one worker's relay state (allocations, their permissions and channels, RFC 6062
// connection deadlines) on a hashed timing wheel (Varghese & Lauck 1987): one slot per 1.024 s
// tick, 4096 slots (70 minutes) around. expire() looks only at the slots whose ticks have come,
// so a tick's work is proportional to what is due there, never to how many timers exist. A
// deadline further away than one turn stays in its slot and is looked at once per turn (counted
// in visits() like any other look).
//
// Timers are intrusive hooks (TimerHook) in the objects they time: arming, re-arming and
// cancelling are a few pointer writes, nothing is allocated, and an object that is destroyed
// unhooks itself. Time is passed in (monotonic milliseconds); nothing here reads a clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace turnpike::relay {

class TimerWheel;

// Derive from this to be timed; `kind` tells expire()'s callback what it was given.
class TimerHook {
 public:
  explicit TimerHook(uint8_t kind = 0) : kind_(kind) {}
  // A copy is not armed: the wheel links the original only.
  TimerHook(const TimerHook& o) : kind_(o.kind_) {}
  TimerHook& operator=(const TimerHook& o) {
    if (this != &o) kind_ = o.kind_;
    return *this;
  }
  ~TimerHook() { cancel(); }

  uint8_t timer_kind() const { return kind_; }
  bool armed() const { return wheel_ != nullptr; }
  int64_t due_ms() const { return due_; }  // meaningful while armed
  void cancel();

 private:
  friend class TimerWheel;
  TimerWheel* wheel_ = nullptr;
  TimerHook* prev_ = nullptr;
  TimerHook* next_ = nullptr;
  int64_t due_ = 0;
  uint32_t slot_ = 0;
  uint8_t kind_;
};

class TimerWheel {
 public:
  static constexpr int kTickShift = 10;  // 1024 ms per slot
  static constexpr uint32_t kSlots = 4096;

  TimerWheel() = default;
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  ~TimerWheel();

  // Arms `t` for `due_ms`, or moves it there if it was armed. `now_ms` is the present: the
  // first call (or expire) starts the wheel there, so that the first tick does not look at the
  // slots of all the time before it.
  void schedule(TimerHook& t, int64_t due_ms, int64_t now_ms);

  // Calls f(hook) once for every timer due at or before `now_ms`, each disarmed before the call
  // (f may schedule it again, or destroy its object and with it any other timer).
  template <typename F>
  void expire(int64_t now_ms, F&& f) {
    collect(now_ms);
    while (TimerHook* t = ready_) {
      unlink(*t);
      f(*t);
    }
  }

  size_t size() const { return size_; }
  // Timers looked at by expire() since the start: what a tick cost.
  uint64_t visits() const { return visits_; }

 private:
  friend class TimerHook;
  static constexpr uint32_t kReady = kSlots;  // slot_ of a timer due in the running expire()

  static int64_t tick_of(int64_t ms) { return ms >> kTickShift; }
  // Moves every timer of the ticks from cursor_ up to now's into ready_.
  void collect(int64_t now_ms);
  void link(TimerHook& t, uint32_t slot);
  void unlink(TimerHook& t);
  TimerHook*& head(uint32_t slot) { return slot == kReady ? ready_ : slots_[slot]; }

  std::array<TimerHook*, kSlots> slots_{};
  TimerHook* ready_ = nullptr;
  void start(int64_t now_ms) {
    if (!started_) cursor_ = tick_of(now_ms);
    started_ = true;
  }

  int64_t cursor_ = 0;  // the first tick not yet wholly expired
  bool started_ = false;
  size_t size_ = 0;
  uint64_t visits_ = 0;
};

}  // namespace turnpike::relay
