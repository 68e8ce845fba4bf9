// Selector overhead over raw epoll: select + dispatch of N always-ready pipes (level-triggered,
// never drained), against a hand-written epoll_wait loop over the same kind of descriptors.
// This baseline is the one place outside reactor/src/detail that includes <sys/epoll.h>.
#include <benchmark/benchmark.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "nioxx/reactor/pipe.h"
#include "nioxx/reactor/reactor.h"
#include "nioxx/reactor/selector.h"

namespace {

using nioxx::Pipe;
using nioxx::SelectionKey;

std::vector<Pipe> readyPipes(int n) {
  std::vector<Pipe> pipes;
  pipes.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    pipes.push_back(Pipe::open());
    const char c = 'x';
    if (pipes.back().sink().writeSome(&c, 1) != 1) std::abort();
  }
  return pipes;
}

void BM_RawEpollWait(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto pipes = readyPipes(n);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> counters(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &counters[static_cast<std::size_t>(i)];
    epoll_ctl(ep, EPOLL_CTL_ADD, pipes[static_cast<std::size_t>(i)].source().fd(), &ev);
  }
  std::vector<epoll_event> events(256);
  for (auto _ : state) {
    const int got = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 0);
    for (int i = 0; i < got; ++i)
      ++*static_cast<int*>(events[static_cast<std::size_t>(i)].data.ptr);
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations() * n);
  close(ep);
}

void BM_SelectorSelectAction(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto pipes = readyPipes(n);
  nioxx::Selector selector;
  std::vector<int> counters(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    pipes[static_cast<std::size_t>(i)].source().registerWith(
        selector, SelectionKey::OP_READ, &counters[static_cast<std::size_t>(i)]);
  }
  for (auto _ : state) {
    const int got = selector.select([](SelectionKey& k) { ++*k.attachment<int>(); },
                                    std::chrono::milliseconds(0));
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_SelectorSelectedKeys(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto pipes = readyPipes(n);
  nioxx::Selector selector;
  std::vector<int> counters(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    pipes[static_cast<std::size_t>(i)].source().registerWith(
        selector, SelectionKey::OP_READ, &counters[static_cast<std::size_t>(i)]);
  }
  for (auto _ : state) {
    selector.selectNow();
    for (SelectionKey* k : selector.selectedKeys())
      ++*k->attachment<int>();
    selector.selectedKeys().clear();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// Toggling interest off and on inside the handler: lazy mask sync makes it free of epoll_ctl.
void BM_SelectorToggleInterest(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto pipes = readyPipes(n);
  nioxx::Selector selector;
  for (auto& p : pipes)
    p.source().registerWith(selector, SelectionKey::OP_READ);
  for (auto _ : state) {
    selector.select(
        [](SelectionKey& k) {
          k.interestOps(0);
          k.interestOps(SelectionKey::OP_READ);
        },
        std::chrono::milliseconds(0));
  }
  state.SetItemsProcessed(state.iterations() * n);
}

struct Counter : nioxx::EventHandler {
  int count = 0;
  void handleEvent(SelectionKey&) override { ++count; }
};

void BM_ReactorRunOnce(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto pipes = readyPipes(n);
  nioxx::Reactor reactor;
  std::vector<Counter> handlers(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    reactor.registerHandler(pipes[static_cast<std::size_t>(i)].source(), SelectionKey::OP_READ,
                            handlers[static_cast<std::size_t>(i)]);
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(reactor.runOnce(std::chrono::milliseconds(0)));
  state.SetItemsProcessed(state.iterations() * n);
}

BENCHMARK(BM_RawEpollWait)->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_SelectorSelectAction)->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_SelectorSelectedKeys)->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_SelectorToggleInterest)->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_ReactorRunOnce)->Arg(1)->Arg(16)->Arg(256);

}  // namespace
