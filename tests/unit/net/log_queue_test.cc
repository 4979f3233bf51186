// LogQueue (net/log_queue.h) with a real pipe as the log output: lines of many threads arrive
// whole, escaped and in each thread's order; when nobody reads the pipe, the threads that log
// never wait, the lines that do not fit are counted, and once the pipe is read again the logger
// says how many were lost.
#include "net/log_queue.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace turnpike::net {
namespace {

// A pipe whose read end a thread drains on demand.
class Pipe {
 public:
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_ = fds[0];
    write_ = fds[1];
  }
  ~Pipe() {
    stop_reading();
    ::close(read_);
    ::close(write_);
  }
  int write_end() const { return write_; }
  void shrink() { fcntl(write_, F_SETPIPE_SZ, 4096); }
  void start_reading() {
    reader_ = std::thread([this] {
      char buf[65536];
      while (true) {
        const ssize_t n = ::read(read_, buf, sizeof buf);
        if (n <= 0) return;
        std::lock_guard lock(mu_);
        text_.append(buf, size_t(n));
      }
    });
  }
  void stop_reading() {
    if (!reader_.joinable()) return;
    ::close(write_);  // the reader sees EOF
    write_ = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    reader_.join();
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }
  bool wait_for(const std::string& needle, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (text().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  int read_ = -1, write_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::string text_;
};

TEST(LogQueue, LinesOfManyThreadsArriveWholeEscapedAndInOrder) {
  Pipe pipe;
  pipe.start_reading();
  LogOutput out(pipe.write_end());
  LogQueue queue(out);
  queue.start();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i)
        queue.push(LogLevel::Notice, "thread " + std::to_string(t) + " line " + std::to_string(i));
    });
  }
  for (auto& th : threads) th.join();
  queue.push(LogLevel::Error, "user=<\x1b[31mred\x1b[0m>");  // what a client could have sent
  EXPECT_TRUE(queue.stop(std::chrono::seconds(10)));
  EXPECT_EQ(queue.dropped(), 0u);
  pipe.stop_reading();
  const std::string text = pipe.text();
  std::vector<int> next(4, 0);
  const std::regex line(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z notice: thread (\d) line (\d+)$)");
  size_t start = 0, lines = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "a line without its end";
    const std::string one = text.substr(start, end - start);
    start = end + 1;
    std::smatch m;
    if (!std::regex_match(one, m, line)) continue;
    const int t = std::stoi(m[1]), i = std::stoi(m[2]);
    EXPECT_EQ(i, next[size_t(t)]) << "thread " << t;
    next[size_t(t)] = i + 1;
    ++lines;
  }
  EXPECT_EQ(lines, 1200u);
  EXPECT_NE(text.find("error: user=<\\x1b[31mred\\x1b[0m>"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(LogQueue, AStalledOutputNeverBlocksTheThreadsThatLog) {
  Pipe pipe;
  pipe.shrink();  // nobody reads: the logger's write blocks once 4 KiB are in the pipe
  LogOutput out(pipe.write_end());
  LogQueue queue(out);
  queue.start();
  const std::string filler(100, 'x');
  const auto started = std::chrono::steady_clock::now();
  auto slowest = std::chrono::steady_clock::duration::zero();
  constexpr int kLines = 5000;  // ~0.5 MB: far more than the pipe and the ring hold
  for (int i = 0; i < kLines; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    queue.push(LogLevel::Notice, "line " + std::to_string(i) + " " + filler);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
  }
  const auto took = std::chrono::steady_clock::now() - started;
  // Had a push waited for the output, it would wait forever: nobody reads yet.
  EXPECT_LT(took, std::chrono::seconds(5));
  const uint64_t dropped = queue.dropped();
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(dropped, uint64_t(kLines));
  RecordProperty("slowest_push_us",
                 int(std::chrono::duration_cast<std::chrono::microseconds>(slowest).count()));

  // The output moves again: what was queued is written, then the count of what was lost.
  pipe.start_reading();
  ASSERT_TRUE(pipe.wait_for("line(s) were dropped", std::chrono::seconds(20))) << pipe.text();
  EXPECT_TRUE(queue.stop(std::chrono::seconds(10)));
  const std::string text = pipe.text();
  // Said once the output moved again (possibly in more than one line): all of them.
  uint64_t reported = 0;
  const std::regex said(R"(warning: log: (\d+) line\(s\) were dropped)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), said); it != std::sregex_iterator(); ++it)
    reported += std::stoull((*it)[1]);
  EXPECT_EQ(reported, dropped);
  // Every line not dropped arrived.
  size_t arrived = 0;
  for (size_t at = text.find(" notice: line "); at != std::string::npos;
       at = text.find(" notice: line ", at + 1))
    ++arrived;
  EXPECT_EQ(arrived + dropped, uint64_t(kLines));
}

TEST(LogQueue, StopGivesUpOnAStuckOutput) {
  // The logger left stuck keeps using its output until its write returns: here they live for
  // the rest of the process, as the daemon's do. Held by statics so that they stay reachable
  // (LeakSanitizer reports what nothing points to, and these are meant to outlive the test).
  static Pipe* const pipe = new Pipe;
  pipe->shrink();
  static LogOutput* const out = new LogOutput(pipe->write_end());
  auto queue = std::make_unique<LogQueue>(*out);
  queue->start();
  for (int i = 0; i < 200; ++i) queue->push(LogLevel::Notice, std::string(200, 'y'));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(queue->stop(std::chrono::milliseconds(300)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  queue.reset();  // does not wait for it again
  pipe->start_reading();  // and it finishes by itself
  EXPECT_TRUE(pipe->wait_for(std::string(200, 'y'), std::chrono::seconds(10)));
}

TEST(LogQueue, ALongLineIsCutOnACharacterBoundaryAndMarked) {
  Pipe pipe;
  pipe.start_reading();
  LogOutput out(pipe.write_end());
  LogQueue queue(out);
  queue.start();
  std::string long_line;
  while (long_line.size() < 3 * LogQueue::kMaxLine) long_line += "\xc3\xa9";  // é
  queue.push(LogLevel::Notice, long_line);
  EXPECT_TRUE(queue.stop(std::chrono::seconds(10)));
  pipe.stop_reading();
  const std::string text = pipe.text();
  EXPECT_NE(text.find("\xc3\xa9 [...]\n"), std::string::npos);
  EXPECT_EQ(text.find("\\x"), std::string::npos);  // no half character escaped
  EXPECT_LT(text.size(), LogQueue::kMaxLine + 100);
}

}  // namespace
}  // namespace turnpike::net
