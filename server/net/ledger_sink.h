// Turns a worker's relay events into ledger records on the worker's ring. Never blocks while
// relaying: a full ring drops the record and counts it. While the server shuts down it waits
// for room instead, so that the final record of every session reaches the ledger.
#pragma once

#include "ledger/ledger_writer.h"
#include "relay/events.h"

namespace turnpike::net {

class LedgerSink : public relay::EventSink {
 public:
  explicit LedgerSink(ledger::Producer& p) : producer_(p) {}

  void session_started(const relay::Allocation& a, const relay::Now& now) override;
  void session_ended(const relay::Allocation& a, relay::EndReason why,
                     const relay::Now& now) override;
  void refused(const relay::Refusal& r) override;
  // Counters of a session that is still going (called periodically by the worker).
  void session_progress(const relay::Allocation& a, const relay::Now& now);

  void set_shutting_down() { shutting_down_ = true; }

 private:
  void fill_session(ledger::LedgerEvent& e, const relay::Allocation& a, const relay::Now& now);
  void push_peers(const relay::Allocation& a, const relay::Now& now);
  void push(const ledger::LedgerEvent& e) { producer_.push(e, shutting_down_); }

  ledger::Producer& producer_;
  bool shutting_down_ = false;
  ledger::LedgerEvent event_;  // reused: it is a kilobyte, better not on the stack each time
};

}  // namespace turnpike::net
