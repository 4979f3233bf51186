// Credentials issued by Prosody, recorded in the ledger from a background thread: record()
// only appends to a bounded in-memory batch, so Prosody's event loop never waits on the disk,
// and closing waits a bounded time (kCloseWaitMs) even when the database is locked or failing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace turnpike::ledger {

struct IssuedCredential {
  int64_t issued_ms = 0;
  std::string host;      // XMPP host that issued it
  std::string jid;       // full JID of the user
  std::string username;  // TURN username
  int64_t expires_s = 0;
};

struct CredentialLogStats {
  uint64_t recorded = 0;  // handed to record()
  uint64_t written = 0;
  uint64_t dropped = 0;  // batch full while the database was failing, or given up at close
  std::string last_error;
};

class CredentialLog {
 public:
  // How long close() (and so the destructor) waits for pending records: short enough not to
  // stall the host program's event loop (Prosody's) noticeably, long enough for a normal write.
  static constexpr int kCloseWaitMs = 500;

  // Called from the writer thread, also after close() returned if close() left it running: it
  // must not refer to anything that dies with the CredentialLog.
  using Log = std::function<void(bool error, const std::string& message)>;
  explicit CredentialLog(std::string path, Log log = nullptr, size_t max_pending = 100'000);
  ~CredentialLog();  // close(kCloseWaitMs)
  CredentialLog(const CredentialLog&) = delete;
  CredentialLog& operator=(const CredentialLog&) = delete;

  void record(IssuedCredential c);
  // Waits (up to `timeout_ms`) until everything recorded so far is written; false on timeout.
  bool flush(int timeout_ms = 5000);
  CredentialLogStats stats() const;
  const std::string& path() const { return path_; }

  // Stops the writer. Waits up to `timeout_ms` for what was recorded to be written; if the
  // database is still locked or failing then, the writer thread is left to end by itself (it
  // gives up after the attempt in progress, which may still succeed) and close() returns how
  // many records were not written yet: at most that many are lost. 0 when everything was
  // written. Later calls return the same number; record() after close() counts as dropped.
  uint64_t close(int timeout_ms = kCloseWaitMs);

 private:
  struct State;  // shared with the writer thread, which may outlive this object
  static void run(const std::shared_ptr<State>& state);

  std::string path_;
  std::shared_ptr<State> state_;
  std::thread thread_;
  uint64_t lost_at_close_ = 0;
};

}  // namespace turnpike::ledger
