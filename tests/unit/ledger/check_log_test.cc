// The check page's rows: a link is claimed once (also by a second CheckLog, as after a
// restart), its result recorded once, and listed newest first.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "ledger/check_log.h"
#include "ledger/migrations.h"

namespace turnpike::ledger {
namespace {

namespace fs = std::filesystem;

class CheckLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) /
          ("checks-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    path = (dir / "ledger.db").string();
  }
  void TearDown() override { fs::remove_all(dir); }

  static CheckRow opened(const std::string& id, int64_t at) {
    CheckRow r;
    r.id = id;
    r.node = "relay1";
    r.note = "Bob, office wifi";
    r.expires_at = at + 3'600'000;
    r.opened_at = at;
    r.client_ip = "192.0.2.10";
    r.user_agent = "Mozilla/5.0";
    r.turn_username = "1800000000:check-" + id;
    return r;
  }

  fs::path dir;
  std::string path;
};

TEST_F(CheckLogTest, ClaimedOnceEvenAcrossRestarts) {
  std::string err;
  CheckLog a(path);
  EXPECT_EQ(a.claim(opened("aa", 1000), &err), CheckLog::Claim::Claimed) << err;
  EXPECT_EQ(a.claim(opened("aa", 2000), &err), CheckLog::Claim::AlreadyUsed);
  CheckLog b(path);  // the relay restarted
  EXPECT_EQ(b.claim(opened("aa", 3000), &err), CheckLog::Claim::AlreadyUsed);
  EXPECT_EQ(b.claim(opened("bb", 4000), &err), CheckLog::Claim::Claimed);
}

TEST_F(CheckLogTest, ResultRecordedOnceForAClaimedLinkOnly) {
  std::string err;
  CheckLog log(path);
  EXPECT_EQ(log.finish("aa", 5000, "", "v", "[]", &err), CheckLog::Finish::Unknown);
  ASSERT_EQ(log.claim(opened("aa", 1000), &err), CheckLog::Claim::Claimed);
  EXPECT_EQ(log.finish("aa", 5000, "Chrome/156", "Your network blocks UDP.", "[{\"url\":\"x\"}]", &err),
            CheckLog::Finish::Recorded);
  EXPECT_EQ(log.finish("aa", 6000, "", "other", "[]", &err), CheckLog::Finish::AlreadyFinished);
  ASSERT_EQ(log.claim(opened("bb", 2000), &err), CheckLog::Claim::Claimed);

  auto db = Database::open(path, Database::Mode::ReadOnly, 1000, &err);
  ASSERT_TRUE(db) << err;
  const auto rows = query_checks(*db, std::nullopt, 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "bb");  // newest first
  EXPECT_FALSE(rows[0].finished_at);
  EXPECT_EQ(rows[1].id, "aa");
  EXPECT_EQ(rows[1].finished_at, 5000);
  EXPECT_EQ(rows[1].verdict, "Your network blocks UDP.");
  EXPECT_EQ(rows[1].results, "[{\"url\":\"x\"}]");
  EXPECT_EQ(rows[1].user_agent, "Chrome/156");
  EXPECT_EQ(rows[1].note, "Bob, office wifi");
  EXPECT_EQ(query_checks(*db, 1500, 10).size(), 1u);
}

TEST_F(CheckLogTest, AnUnwritableLedgerFailsWithoutThrowing) {
  std::string err;
  CheckLog log((dir / "missing-dir" / "ledger.db").string());
  EXPECT_EQ(log.claim(opened("aa", 1000), &err), CheckLog::Claim::Failed);
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace turnpike::ledger
