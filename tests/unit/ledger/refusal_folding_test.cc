// RefusalFolding and SessionRows: the writer's bookkeeping across its transactions, without
// SQLite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "ledger/refusal_folding.h"
#include "ledger/session_rows.h"

namespace turnpike::ledger {
namespace {

using Action = RefusalFolding::Action;
using Written = std::vector<std::tuple<int64_t, int64_t, int64_t>>;  // row, last_at, count

Written unwritten(const RefusalFolding& f) {
  Written w;
  f.for_each_unwritten([&](int64_t row, int64_t at, int64_t n) { w.emplace_back(row, at, n); });
  std::sort(w.begin(), w.end());
  return w;
}

Refusal refusal(const char* ip, const char* reason, const char* user) {
  Refusal e;
  e.client = core::SocketAddress(*core::IpAddress::parse(ip), 5000);
  e.reason.set(reason);
  e.username.set(user);
  return e;
}

TEST(RefusalFolding, TheKeyIsSourceAddressReasonUserAndPeer) {
  const Refusal a = refusal("198.51.100.7", "bad-integrity", "1:eve");
  Refusal other_port = a;
  other_port.client = core::SocketAddress(*core::IpAddress::parse("198.51.100.7"), 6000);
  EXPECT_EQ(RefusalFolding::key_of(a, ""), RefusalFolding::key_of(other_port, ""));
  EXPECT_NE(RefusalFolding::key_of(a, ""),
            RefusalFolding::key_of(refusal("198.51.100.8", "bad-integrity", "1:eve"), ""));
  EXPECT_NE(RefusalFolding::key_of(a, ""),
            RefusalFolding::key_of(refusal("198.51.100.7", "stale-nonce", "1:eve"), ""));
  EXPECT_NE(RefusalFolding::key_of(a, ""),
            RefusalFolding::key_of(refusal("198.51.100.7", "bad-integrity", "1:bob"), ""));
  EXPECT_NE(RefusalFolding::key_of(a, ""), RefusalFolding::key_of(a, "10.0.0.1"));
  // Fields cannot run into each other: user "a" + peer "\nb" is not user "a\n" + peer "b".
  EXPECT_NE(RefusalFolding::key_of(refusal("198.51.100.7", "r", "a"), "b"),
            RefusalFolding::key_of(refusal("198.51.100.7", "r", "ab"), ""));
}

TEST(RefusalFolding, IdenticalRefusalsFoldForAMinuteThenMakeANewRow) {
  RefusalFolding f(5);
  ASSERT_EQ(f.decide("k", 1'000), Action::NewRow);
  f.add_row("k", 10, 1'000);
  EXPECT_EQ(f.decide("k", 1'500), Action::Fold);
  EXPECT_EQ(f.decide("k", 1'200), Action::Fold);  // out of order: last_at stays the newest
  EXPECT_EQ(unwritten(f), (Written{{10, 1'500, 2}}));
  EXPECT_EQ(f.committed(), 0u);
  EXPECT_TRUE(unwritten(f).empty());
  EXPECT_EQ(f.decide("k", 60'999), Action::Fold);
  EXPECT_EQ(f.decide("k", 61'000), Action::NewRow);  // the minute of row 10 is over
  f.add_row("k", 11, 61'000);
  EXPECT_EQ(f.decide("k", 61'001), Action::Fold);
  // The count folded into row 10 before its minute ended is still written.
  EXPECT_EQ(unwritten(f), (Written{{10, 60'999, 1}, {11, 61'001, 1}}));
  f.committed();
  EXPECT_TRUE(unwritten(f).empty());
}

TEST(RefusalFolding, NewRowsAreCappedPerSecondAndTheCappedCountedAtTheCommit) {
  RefusalFolding f(2);
  for (int i = 0; i < 2; ++i) {
    std::string k = "k";  // appended: "k" + std::to_string(i) trips GCC 12 -O3 -Wrestrict
    k += std::to_string(i);
    ASSERT_EQ(f.decide(k, 5'000 + i), Action::NewRow);
    f.add_row(k, 100 + i, 5'000 + i);
  }
  EXPECT_EQ(f.decide("k2", 5'100), Action::Capped);
  EXPECT_EQ(f.decide("k3", 5'999), Action::Capped);
  EXPECT_EQ(f.decide("k0", 5'999), Action::Fold);  // folding is not capped
  EXPECT_EQ(f.decide("k2", 6'000), Action::NewRow);  // the next second
  EXPECT_EQ(f.committed(), 2u);
  EXPECT_EQ(f.committed(), 0u);
}

TEST(RefusalFolding, ARollbackUndoesTheTransaction) {
  RefusalFolding f(1);
  ASSERT_EQ(f.decide("a", 1'000), Action::NewRow);
  f.add_row("a", 1, 1'000);
  f.decide("a", 1'001);
  f.committed();  // row 1 with a count of 2 is in the database
  // The next transaction: folds into row 1, a capped refusal, and in the next second a new
  // key's row, then a new row for "a" after its minute, folds into both.
  EXPECT_EQ(f.decide("a", 1'002), Action::Fold);
  EXPECT_EQ(f.decide("b", 1'003), Action::Capped);
  ASSERT_EQ(f.decide("b", 2'000), Action::NewRow);
  f.add_row("b", 2, 2'000);
  EXPECT_EQ(f.decide("a", 2'001), Action::Fold);
  ASSERT_EQ(f.decide("a", 70'000), Action::NewRow);
  f.add_row("a", 3, 70'000);
  f.decide("a", 70'001);
  EXPECT_EQ(unwritten(f), (Written{{1, 2'001, 2}, {3, 70'001, 1}}));
  f.rolled_back();
  // Nothing of it remains: applied again, the same refusals give the same decisions.
  EXPECT_TRUE(unwritten(f).empty());
  EXPECT_EQ(f.keys(), 1u);
  EXPECT_EQ(f.decide("a", 1'002), Action::Fold);
  EXPECT_EQ(f.decide("b", 1'003), Action::Capped);
  ASSERT_EQ(f.decide("b", 2'000), Action::NewRow);
  f.add_row("b", 4, 2'000);
  EXPECT_EQ(f.decide("a", 2'001), Action::Fold);
  EXPECT_EQ(unwritten(f), (Written{{1, 2'001, 2}}));
  EXPECT_EQ(f.committed(), 1u);  // the capped refusal once, not once per attempt
}

TEST(RefusalFolding, ClearForgetsEveryRow) {
  RefusalFolding f(5);
  f.decide("a", 1'000);
  f.add_row("a", 1, 1'000);
  f.decide("a", 1'001);
  f.clear();
  EXPECT_TRUE(unwritten(f).empty());
  EXPECT_EQ(f.decide("a", 1'002), Action::NewRow);
}

TEST(RefusalFolding, KeysPastTheirMinuteAreForgottenWhenThereAreMany) {
  RefusalFolding f(1'000'000);
  const size_t n = RefusalFolding::kForgetAbove + 10;
  for (size_t i = 0; i < n; ++i) {
    std::string k = "k";  // appended: "k" + std::to_string(i) trips GCC 12 -O3 -Wrestrict
    k += std::to_string(i);
    ASSERT_EQ(f.decide(k, 1'000), Action::NewRow);
    f.add_row(k, int64_t(i), 1'000);
  }
  f.committed();
  EXPECT_EQ(f.keys(), n);  // all within their minute
  ASSERT_EQ(f.decide("late", 61'000), Action::NewRow);
  f.add_row("late", -1, 61'000);
  f.committed();
  EXPECT_EQ(f.keys(), 1u);
}

TEST(SessionRows, ARollbackPutsTheMapBack) {
  SessionRows r;
  r.set(1, 100);
  r.set(2, 200);
  r.committed();
  r.erase(1);          // an end
  r.set(3, 300);       // a start
  r.set(2, 201);       // (not done by the writer, but undone all the same)
  r.erase(3);          // a start and its end in one transaction
  r.set(4, 400);
  EXPECT_FALSE(r.find(1));
  EXPECT_EQ(r.find(4), 400);
  r.rolled_back();
  EXPECT_EQ(r.find(1), 100);
  EXPECT_EQ(r.find(2), 200);
  EXPECT_FALSE(r.find(3));
  EXPECT_FALSE(r.find(4));
  EXPECT_EQ(r.size(), 2u);
  r.erase(2);
  r.committed();
  r.rolled_back();  // nothing to undo after a commit
  EXPECT_FALSE(r.find(2));
  r.clear();
  EXPECT_EQ(r.size(), 0u);
}

}  // namespace
}  // namespace turnpike::ledger
