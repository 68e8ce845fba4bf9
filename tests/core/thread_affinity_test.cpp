// ThreadAffinity: owner tracking, and the loop-thread assertion in checked builds.
#include "nioxx/core/thread_affinity.h"

#include <gtest/gtest.h>

#include <thread>

#include "nioxx/core/version.h"

namespace nioxx {
namespace {

TEST(ThreadAffinityTest, UnboundPassesEverywhereButIsNotCurrent) {
  ThreadAffinity a;
  EXPECT_FALSE(a.isBound());
  EXPECT_FALSE(a.isCurrentThread());
  EXPECT_TRUE(a.isCurrentOrUnbound());
  a.assertCurrentThread("unbound");  // must not abort
}

TEST(ThreadAffinityTest, BoundIsCurrentOnlyOnOwner) {
  ThreadAffinity a;
  a.bindToCurrentThread();
  EXPECT_TRUE(a.isBound());
  EXPECT_TRUE(a.isCurrentThread());
  bool elsewhere = true;
  std::thread([&] { elsewhere = a.isCurrentThread(); }).join();
  EXPECT_FALSE(elsewhere);
  a.unbind();
  EXPECT_FALSE(a.isBound());
}

TEST(ThreadAffinityTest, RebindMovesOwnership) {
  ThreadAffinity a;
  a.bindToCurrentThread();
  std::thread([&] {
    a.bindToCurrentThread();
    EXPECT_TRUE(a.isCurrentThread());
  }).join();
  EXPECT_FALSE(a.isCurrentThread());
}

#if NIOXX_ASSERT_THREADS
TEST(ThreadAffinityDeathTest, AssertOffOwnerThreadAbortsNamingTheCall) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ThreadAffinity a;
  a.bindToCurrentThread();
  EXPECT_DEATH(std::thread([&] { a.assertCurrentThread("Selector::select"); }).join(),
               "Selector::select called from a thread that does not own");
}
#else
TEST(ThreadAffinityTest, AssertIsANoOpInUncheckedBuilds) {
  ThreadAffinity a;
  a.bindToCurrentThread();
  std::thread([&] { a.assertCurrentThread("Selector::select"); }).join();
}
#endif

TEST(VersionTest, VersionStringMatchesNumbers) {
  EXPECT_EQ(kVersion, "0.1.0");
  EXPECT_EQ(std::to_string(kVersionMajor) + "." + std::to_string(kVersionMinor) + "." +
                std::to_string(kVersionPatch),
            kVersion);
}

}  // namespace
}  // namespace nioxx
