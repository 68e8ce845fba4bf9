// log: level parsing from init() and NIOXX_LOG_LEVEL, one shared logger per module.
#include "nioxx/core/log.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace nioxx {
namespace {

// Restores the environment and the level around each test (they share global state).
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("NIOXX_LOG_LEVEL"); }
  void TearDown() override {
    ::unsetenv("NIOXX_LOG_LEVEL");
    log::init("info");
  }
};

TEST_F(LogTest, InitSetsLevelOfExistingAndNewLoggers) {
  auto core = log::get("core");
  log::init("debug");
  EXPECT_EQ(core->level(), spdlog::level::debug);
  EXPECT_EQ(log::get("log-test-new")->level(), spdlog::level::debug);
  log::init("error");
  EXPECT_EQ(core->level(), spdlog::level::err);
  EXPECT_EQ(log::level(), spdlog::level::err);
}

TEST_F(LogTest, EveryDocumentedLevelParses) {
  using L = spdlog::level::level_enum;
  EXPECT_EQ(log::parseLevel("trace"), L::trace);
  EXPECT_EQ(log::parseLevel("debug"), L::debug);
  EXPECT_EQ(log::parseLevel("info"), L::info);
  EXPECT_EQ(log::parseLevel("warn"), L::warn);
  EXPECT_EQ(log::parseLevel("warning"), L::warn);
  EXPECT_EQ(log::parseLevel("error"), L::err);
  EXPECT_EQ(log::parseLevel("critical"), L::critical);
  EXPECT_EQ(log::parseLevel("off"), L::off);
  EXPECT_EQ(log::parseLevel("DEBUG"), L::debug);
}

TEST_F(LogTest, UnknownLevelThrowsListingValidLevels) {
  log::init("warn");
  try {
    log::init("verbose");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("verbose"), std::string::npos) << what;
    for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
      EXPECT_NE(what.find(level), std::string::npos) << level << " missing from: " << what;
    }
  }
  EXPECT_EQ(log::level(), spdlog::level::warn);  // unchanged by the failed call
}

TEST_F(LogTest, EmptyLevelUsesEnvironment) {
  ::setenv("NIOXX_LOG_LEVEL", "critical", 1);
  log::init();
  EXPECT_EQ(log::level(), spdlog::level::critical);
  EXPECT_EQ(log::get("core")->level(), spdlog::level::critical);
}

TEST_F(LogTest, ExplicitLevelBeatsEnvironment) {
  ::setenv("NIOXX_LOG_LEVEL", "critical", 1);
  log::init("trace");
  EXPECT_EQ(log::level(), spdlog::level::trace);
}

TEST_F(LogTest, NoLevelAndNoEnvironmentMeansInfo) {
  log::init("off");
  log::init();
  EXPECT_EQ(log::level(), spdlog::level::info);
}

TEST_F(LogTest, InvalidEnvironmentLevelThrowsNamingTheVariable) {
  ::setenv("NIOXX_LOG_LEVEL", "loud", 1);
  try {
    log::init();
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("NIOXX_LOG_LEVEL"), std::string::npos) << e.what();
  }
}

TEST_F(LogTest, GetReturnsOneLoggerPerModuleFromAnyThread) {
  std::vector<std::shared_ptr<spdlog::logger>> got(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] { got[i] = log::get("log-test-shared"); });
  }
  for (auto& t : threads)
    t.join();
  for (const auto& logger : got)
    EXPECT_EQ(logger, got[0]);
  EXPECT_EQ(got[0]->name(), "log-test-shared");
  EXPECT_NE(log::get("reactor"), log::get("proactor"));
}

TEST_F(LogTest, ModulesShareOneSink) {
  auto a = log::get("core");
  auto b = log::get("reactor");
  ASSERT_EQ(a->sinks().size(), 1u);
  ASSERT_EQ(b->sinks().size(), 1u);
  EXPECT_EQ(a->sinks()[0], b->sinks()[0]);
}

}  // namespace
}  // namespace nioxx
