// A plain open-addressed hash table (linear probing, backshift deletion: no tombstones), the one
// structure behind an allocation's permissions and channels (relay/allocation.h). Plain on
// purpose: a power-of-two array of entries, a keyed hash (relay/keyed_hash.h), no per-entry
// allocation, so that lookup on the relay path is a hash and a few compares whatever an
// allocation holds, and the layout is simple enough to mirror into a kernel map.
//
// Memory is taken only by insert() (the control path: CreatePermission, ChannelBind): it starts
// with no array and doubles up to what the caller's cap needs, kept at most 3/4 full so probe
// sequences stay short. Lookups and erase never allocate. The caps themselves (max-permissions,
// max-channels) are the caller's: it knows what to answer at the cap (RFC 8656: 508).
//
// Entry pointers from find()/insert() stay valid until the next insert() or erase of any entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "relay/keyed_hash.h"

namespace turnpike::relay {

// The shared default key: what a table uses before an allocation is given its worker's key
// (tests that build an Allocation by hand).
inline const HashKey& default_hash_key() {
  static const HashKey k;
  return k;
}

// `KeyOf` says what an entry's key is: `using Key = ...;` and `static const Key& key(const
// Entry&)`. Keys are hashed with keyed_hash(Key, HashKey) and compared with ==.
template <typename Entry, typename KeyOf>
class OpenTable {
 public:
  using Key = typename KeyOf::Key;
  // A hard ceiling whatever the caller's cap: 2^16 entries (in 2^17 slots).
  static constexpr uint32_t kMaxCapacity = 1u << 17;

  OpenTable() = default;
  OpenTable(OpenTable&& o) noexcept { *this = std::move(o); }
  OpenTable& operator=(OpenTable&& o) noexcept {
    slots_ = std::move(o.slots_);
    key_ = o.key_;
    capacity_ = std::exchange(o.capacity_, 0);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }

  // The hash key; set once, before the first insert.
  void set_hash_key(const HashKey* k) { key_ = k; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  size_t bytes() const { return sizeof(Slot) * capacity_; }  // heap memory held

  Entry* find(const Key& k) {
    if (!size_) return nullptr;
    const uint32_t mask = capacity_ - 1;
    for (uint32_t i = home(k); ; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (KeyOf::key(s.entry) == k) return &s.entry;
    }
  }
  const Entry* find(const Key& k) const { return const_cast<OpenTable*>(this)->find(k); }

  // Inserts `e`, whose key must not be in the table. Null only past kMaxCapacity.
  Entry* insert(const Entry& e) {
    if (uint64_t(size_ + 1) * 4 > uint64_t(capacity_) * 3 && !grow()) return nullptr;
    const uint32_t mask = capacity_ - 1;
    uint32_t i = home(KeyOf::key(e));
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i].used = true;
    slots_[i].entry = e;
    ++size_;
    return &slots_[i].entry;
  }

  bool erase(const Key& k) {
    if (!size_) return false;
    const uint32_t mask = capacity_ - 1;
    for (uint32_t i = home(k); ; i = (i + 1) & mask) {
      if (!slots_[i].used) return false;
      if (KeyOf::key(slots_[i].entry) == k) {
        erase_slot(i);
        return true;
      }
    }
  }

  // Erases every entry for which `pred(entry)` is true. `pred` may see a kept entry twice (an
  // entry that wraps around the array's end can be shifted back over it) and must give the same
  // answer both times.
  template <typename Pred>
  size_t erase_if(Pred&& pred) {
    size_t n = 0;
    for (uint32_t i = 0; i < capacity_; ++i) {
      // Backshift moves a later entry into slot i: look at the slot again.
      while (slots_[i].used && pred(slots_[i].entry)) {
        erase_slot(i);
        ++n;
      }
    }
    return n;
  }

  template <typename F>
  void for_each(F&& f) {
    for (uint32_t i = 0; i < capacity_; ++i) {
      if (slots_[i].used) f(slots_[i].entry);
    }
  }
  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i < capacity_; ++i) {
      if (slots_[i].used) f(static_cast<const Entry&>(slots_[i].entry));
    }
  }

  void clear() {
    slots_.reset();
    capacity_ = size_ = 0;
  }

 private:
  struct Slot {
    Entry entry{};
    bool used = false;
  };

  uint32_t home(const Key& k) const {
    return uint32_t(keyed_hash(k, *key_)) & (capacity_ - 1);
  }

  bool grow() {
    const uint32_t cap = capacity_ ? capacity_ * 2 : 2;  // most allocations hold one peer
    if (cap > kMaxCapacity) return false;
    std::unique_ptr<Slot[]> old = std::exchange(slots_, std::make_unique<Slot[]>(cap));
    const uint32_t old_cap = std::exchange(capacity_, cap);
    size_ = 0;
    for (uint32_t i = 0; i < old_cap; ++i) {
      if (old[i].used) insert(old[i].entry);
    }
    return true;
  }

  // Knuth's Algorithm R (TAOCP 6.4): empty slot i, then move back every later entry of the same
  // run that may live there, so that every lookup still finds its entry before an empty slot.
  void erase_slot(uint32_t i) {
    const uint32_t mask = capacity_ - 1;
    slots_[i] = Slot{};
    --size_;
    for (uint32_t j = (i + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
      const uint32_t h = home(KeyOf::key(slots_[j].entry));
      // Entry j may move to hole i unless its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (stays) continue;
      slots_[i] = std::move(slots_[j]);
      slots_[j] = Slot{};
      i = j;
    }
  }

  std::unique_ptr<Slot[]> slots_;
  const HashKey* key_ = &default_hash_key();
  uint32_t capacity_ = 0;
  uint32_t size_ = 0;
};

}  // namespace turnpike::relay
