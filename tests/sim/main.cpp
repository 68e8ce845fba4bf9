// nioxx_simulate: runs the simulation's properties over many seeds (issue 13). Every failure prints
// its seed and the command that replays it alone; --log prints the replayed seed's event log, and
// the trace hash shows that a replay took the same path. See docs/RELIABILITY.md.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nioxx/core/log.h"
#include "property.h"

namespace {

using nioxx::sim::Property;

const std::vector<Property> kProperties = {
    {"selector", "Selector contract and streams under random readiness",
     &nioxx::sim::selectorProperty},
    {"timers", "Reactor timers under the virtual clock", &nioxx::sim::timersProperty},
    {"proactor", "emulated proactor, driven post_reactive", &nioxx::sim::proactorProperty},
    {"proactor-call-through", "emulated proactor, call_through on 1-3 stepped loops",
     &nioxx::sim::proactorCallThroughProperty},
    {"proactor-pool", "emulated proactor, pool: stepped loops and 2-4 preemptible workers",
     &nioxx::sim::proactorPoolProperty},
#ifdef NIOXX_SIM_HELLO
    {"hello", "the hello protocol end to end, the seed picks the server's glue",
     &nioxx::sim::helloProperty},
    {"hello-reactor", "hello through the reactive glue only", &nioxx::sim::helloReactorProperty,
     true},
    {"hello-proactor", "hello through the proactive glue only", &nioxx::sim::helloProactorProperty,
     true},
    {"hello-coroutine", "hello through the coroutine glue only",
     &nioxx::sim::helloCoroutineProperty, true},
#endif
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nioxx deterministic simulation: properties over seeded simulated worlds"};
  std::uint64_t first = 1;
  std::uint64_t seeds = 1000;
  std::optional<std::uint64_t> seed;
  std::string only;
  std::string faultName = "none";
  bool log = false;
  bool expectFailure = false;
  bool spread = false;
  std::string expectMessage;
  std::size_t maxFailures = 5;
  app.add_option("--seed", seed, "replay one seed");
  app.add_option("--first", first, "first seed of the run");
  app.add_option("--seeds", seeds, "number of seeds");
  app.add_option("--property", only,
                 "run only this property (selector, timers, proactor, proactor-call-through, "
                 "proactor-pool, hello; hello-reactor, hello-proactor, hello-coroutine only "
                 "when named)");
  app.add_option("--fault", faultName,
                 "switch on a deliberate bug: reorder-writes, drop-readiness, overlap-handlers");
  app.add_flag("--spread", spread,
               "each seed runs one of the selected properties in turn (seed modulo their count) "
               "instead of all of them: CI's seeds spread over the properties");
  app.add_flag("--log", log, "print the event log of each seed (use with --seed)");
  app.add_flag("--expect-failure", expectFailure,
               "succeed only if some seed fails (proves the properties catch --fault)");
  app.add_option("--expect-message", expectMessage,
                 "with --expect-failure: succeed only if a failure's message contains this text");
  app.add_option("--max-failures", maxFailures, "stop after this many failing seeds");
  CLI11_PARSE(app, argc, argv);
  if (seed) {
    first = *seed;
    seeds = 1;
  }
  for (const char* name : {"sim", "core", "bridge", "reactor", "proactor"})
    nioxx::log::get(name)->set_level(spdlog::level::off);
  spdlog::set_level(spdlog::level::off);  // the chaos provokes warnings by design
  const nioxx::sim::Fault fault = nioxx::sim::parseFault(faultName);

  std::size_t failures = 0;
  bool expectedSeen = expectMessage.empty();
  std::size_t runs = 0;
  std::uint64_t combined = 0;
  const auto start = std::chrono::steady_clock::now();
  std::vector<const Property*> selected;
  for (const Property& p : kProperties) {
    if (only.empty() ? !p.onlyByName : only == p.name) selected.push_back(&p);
  }
  if (selected.empty()) {
    std::fprintf(stderr, "nioxx_simulate: no property named '%s'\n", only.c_str());
    return 2;
  }
  std::vector<std::pair<std::size_t, double>> perProperty(selected.size());  // runs, seconds
  for (std::uint64_t s = first; s < first + seeds && failures < maxFailures; ++s) {
    for (std::size_t index = 0; index < selected.size(); ++index) {
      if (spread && seeds > 1 && s % selected.size() != index) continue;
      const Property& p = *selected[index];
      const auto began = std::chrono::steady_clock::now();
      // One world per seed and property: the seed alone decides everything in it.
      const std::uint64_t worldSeed = s * 0x9e3779b97f4a7c15ull ^ std::hash<std::string>{}(p.name);
      nioxx::sim::Check check;
      std::uint64_t hash = 0;
      {
        nioxx::sim::World world(worldSeed, fault, log);
        try {
          p.run(world, check);
        } catch (const std::exception& e) {
          check.that(false, std::string("exception: ") + e.what());
        }
        hash = world.traceHash();
        if (log) {
          for (const std::string& line : world.log())
            std::printf("  %s\n", line.c_str());
        }
      }
      ++runs;
      ++perProperty[index].first;
      perProperty[index].second +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
      combined = combined * 1099511628211ull ^ hash;
      if (seeds == 1 || check.failed()) {
        std::printf("%s seed %llu %s trace %016llx\n", check.failed() ? "FAIL" : "ok",
                    static_cast<unsigned long long>(s), p.name,
                    static_cast<unsigned long long>(hash));
      }
      if (check.failed()) {
        ++failures;
        for (const std::string& f : check.failures()) {
          std::printf("  %s\n", f.c_str());
          if (f.find(expectMessage) != std::string::npos) expectedSeen = true;
        }
        std::printf("  replay: scripts/simulate.sh --seed %llu --property %s%s [--log]\n",
                    static_cast<unsigned long long>(s), p.name,
                    fault == nioxx::sim::Fault::none ? "" : (" --fault " + faultName).c_str());
      }
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (seeds > 1) {
    for (std::size_t i = 0; i < selected.size(); ++i) {
      const auto [n, t] = perProperty[i];
      std::printf("  %-22s %8zu runs %8.2f s %9.0f runs/s\n", selected[i]->name, n, t,
                  t > 0 ? static_cast<double>(n) / t : 0.0);
    }
  }
  std::printf(
      "RESULT sim seeds %llu..%llu runs %zu failures %zu fault %s: %.0f runs/s, combined "
      "trace %016llx\n",
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + seeds - 1),
      runs, failures, faultName.c_str(), secs > 0 ? runs / secs : 0.0,
      static_cast<unsigned long long>(combined));
  if (expectFailure) return failures > 0 && expectedSeen ? 0 : 1;
  return failures > 0 ? 1 : 0;
}
