// metrics: Prometheus text exposition (0.0.4) and per-thread counters.
#include "nioxx/core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace nioxx::metrics {
namespace {

TEST(MetricsExposition, RendersHelpTypeAndSamplesGroupedByFamily) {
  Exposition e;
  e.family("nioxx_a_total", "Things done.", Type::counter).sample({{"loop", "0"}}, 3);
  e.family("nioxx_b", "A level.", Type::gauge).sample(1.5);
  e.family("nioxx_a_total", "Things done.", Type::counter).sample({{"loop", "1"}}, 4);
  EXPECT_EQ(e.text(),
            "# HELP nioxx_a_total Things done.\n"
            "# TYPE nioxx_a_total counter\n"
            "nioxx_a_total{loop=\"0\"} 3\n"
            "nioxx_a_total{loop=\"1\"} 4\n"
            "# HELP nioxx_b A level.\n"
            "# TYPE nioxx_b gauge\n"
            "nioxx_b 1.5\n");
}

TEST(MetricsExposition, EscapesHelpAndLabelValues) {
  Exposition e;
  e.family("x", "back\\slash\nnewline \"quotes stay\"", Type::gauge)
      .sample({{"k", "a\"b\\c\nd"}, {"j", ""}}, 0);
  EXPECT_EQ(e.text(),
            "# HELP x back\\\\slash\\nnewline \"quotes stay\"\n"
            "# TYPE x gauge\n"
            "x{k=\"a\\\"b\\\\c\\nd\",j=\"\"} 0\n");
}

TEST(MetricsExposition, SpecialValues) {
  Exposition e;
  e.family("v", "v", Type::gauge)
      .sample({{"i", "1"}}, std::numeric_limits<double>::infinity())
      .sample({{"i", "2"}}, -std::numeric_limits<double>::infinity())
      .sample({{"i", "3"}}, std::nan(""))
      .sample({{"i", "4"}}, 0.25)
      .sample({{"i", "5"}}, -7);
  EXPECT_EQ(e.text(),
            "# HELP v v\n# TYPE v gauge\nv{i=\"1\"} +Inf\nv{i=\"2\"} -Inf\nv{i=\"3\"} NaN\n"
            "v{i=\"4\"} 0.25\nv{i=\"5\"} -7\n");
}

TEST(MetricsExposition, RejectsBadNamesAndMisuse) {
  Exposition e;
  EXPECT_THROW(e.sample(1), std::invalid_argument);  // no family yet
  EXPECT_THROW(e.family("", "h", Type::gauge), std::invalid_argument);
  EXPECT_THROW(e.family("1abc", "h", Type::gauge), std::invalid_argument);
  EXPECT_THROW(e.family("a-b", "h", Type::gauge), std::invalid_argument);
  e.family("ns:ok_1", "h", Type::gauge);
  EXPECT_THROW(e.sample({{"bad-label", "v"}}, 1), std::invalid_argument);
  EXPECT_THROW(e.sample({{"a:b", "v"}}, 1), std::invalid_argument);  // no colon in labels
  EXPECT_THROW(e.sample({{"__reserved", "v"}}, 1), std::invalid_argument);
  EXPECT_THROW(e.sample({{"a", "1"}, {"a", "2"}}, 1), std::invalid_argument);
  EXPECT_THROW(e.family("ns:ok_1", "h", Type::counter), std::invalid_argument);
}

TEST(ThreadCounter, SumsTheCellsOfLiveAndExitedThreads) {
  ThreadCounter c;
  c.add(5);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i)
        c.add();
      c.add(-100);
    });
  }
  for (auto& t : threads)
    t.join();  // exited: their cells are folded into the base
  EXPECT_EQ(c.value(), 5 + 4 * (10000 - 100));
}

TEST(ThreadCounter, AReusedCounterStartsAtZero) {
  for (int round = 0; round < 3; ++round) {
    ThreadCounter c;
    EXPECT_EQ(c.value(), 0);
    c.add(42);
    std::thread([&c] { c.add(1); }).join();
    EXPECT_EQ(c.value(), 43);
  }
}

TEST(ThreadCounter, CountsConcurrentlyWithScrapes) {
  ThreadCounter c;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    std::int64_t last = 0;
    while (!done.load()) {
      const std::int64_t v = c.value();
      EXPECT_GE(v, last);  // one writer per cell, only increments: never goes back
      last = v;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&c] {
      for (int i = 0; i < 20000; ++i)
        c.add();
    });
  }
  for (auto& t : writers)
    t.join();
  done = true;
  reader.join();
  EXPECT_EQ(c.value(), 40000);
}

TEST(MetricsRegistry, ScrapesCollectorsUntilTheirHandleGoes) {
  MetricsRegistry r;
  auto h1 = r.add([](Exposition& e) { e.family("one", "1", Type::gauge).sample(1); });
  {
    auto h2 = r.add([](Exposition& e) { e.family("two", "2", Type::gauge).sample(2); });
    EXPECT_EQ(r.scrape(),
              "# HELP one 1\n# TYPE one gauge\none 1\n# HELP two 2\n# TYPE two gauge\ntwo 2\n");
  }
  EXPECT_EQ(r.scrape(), "# HELP one 1\n# TYPE one gauge\none 1\n");
  h1.reset();
  EXPECT_EQ(r.scrape(), "");
}

}  // namespace
}  // namespace nioxx::metrics
