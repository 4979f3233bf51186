// Credentials issued by Prosody, recorded in the ledger from a background thread: record()
// only appends to a bounded in-memory batch, so Prosody's event loop never waits on the disk.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/sqlite_db.h"

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
  uint64_t dropped = 0;  // batch full while the database was failing
  std::string last_error;
};

class CredentialLog {
 public:
  using Log = std::function<void(bool error, const std::string& message)>;
  explicit CredentialLog(std::string path, Log log = nullptr, size_t max_pending = 100'000);
  ~CredentialLog();  // writes what is pending (briefly retrying), then stops
  CredentialLog(const CredentialLog&) = delete;
  CredentialLog& operator=(const CredentialLog&) = delete;

  void record(IssuedCredential c);
  // Waits (up to `timeout_ms`) until everything recorded so far is written; false on timeout.
  bool flush(int timeout_ms = 5000);
  CredentialLogStats stats() const;
  const std::string& path() const { return path_; }

 private:
  void run();
  bool write(std::vector<IssuedCredential>& batch);

  std::string path_;
  Log log_;
  size_t max_pending_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable written_cv_;
  std::vector<IssuedCredential> queue_;
  bool stopping_ = false;
  CredentialLogStats stats_;
  std::optional<Database> db_;
  bool failing_ = false;
  std::thread thread_;
};

}  // namespace turnpike::ledger
