#include "hello/client_connection.h"

#include <fmt/format.h>

#include <memory>
#include <vector>

#include "hello.pb.h"
#include "hello/hello_service.h"

namespace nioxx::demo {

namespace {
std::mutex gHistogramsMutex;
std::vector<std::unique_ptr<LatencyHistogram>>& histograms() {
  static std::vector<std::unique_ptr<LatencyHistogram>> all;
  return all;
}
}  // namespace

LatencyHistogram& threadHistogram() {
  thread_local LatencyHistogram* mine = [] {
    std::lock_guard lock(gHistogramsMutex);
    histograms().push_back(std::make_unique<LatencyHistogram>());
    return histograms().back().get();
  }();
  return *mine;
}

// Call only after every client thread was joined.
LatencyHistogram mergedHistograms() {
  std::lock_guard lock(gHistogramsMutex);
  LatencyHistogram all;
  for (auto& h : histograms())
    all.merge(*h);
  return all;
}

void ClientShared::noteProblem(const std::string& what) {
  std::lock_guard lock(firstProblemMutex);
  if (firstProblem.empty()) firstProblem = what;
}

ClientConnection::ClientConnection(ClientShared& shared, std::size_t index)
    : shared_(shared),
      index_(index),
      expectedGreeting_(HelloService::greeting(shared.plan.name)),
      decoder_(shared.plan.maxReplyFrame) {}

void ClientConnection::onConnected() {
  topUp();
}

void ClientConnection::topUp() {
  const auto& plan = shared_.plan;
  const auto now = ClientClock::now();
  while (inFlight_.size() < plan.pipeline && !shared_.stopSending.load(std::memory_order_relaxed) &&
         (plan.requestsPerConnection == 0 || nextSeq_ <= plan.requestsPerConnection)) {
    HelloService::appendRequest(plan.name, nextSeq_++, out_.back());
    inFlight_.push_back(now);
    sent_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ClientConnection::onBytes(std::span<const std::uint8_t> bytes) {
  if (closed_) return;
  const auto ec = decoder_.feed(bytes, [this](std::span<const std::uint8_t> f) { onReply(f); });
  if (ec) {
    shared_.noteProblem(fmt::format("connection {}: bad reply framing: {}", index_, ec.message()));
    wrong_.fetch_add(1, std::memory_order_relaxed);
    return finish();
  }
  if (closed_) return;
  topUp();
  checkStop();
}

void ClientConnection::onReply(std::span<const std::uint8_t> frame) {
  if (closed_) return;
  hello::HelloReply reply;
  const auto now = ClientClock::now();
  const bool parsed = reply.ParseFromArray(frame.data(), static_cast<int>(frame.size()));
  const bool expected = !inFlight_.empty();
  const bool ok = parsed && expected && reply.error().empty() && reply.seq() == expectedSeq_ &&
                  reply.greeting() == expectedGreeting_;
  lastGreeting_ = reply.greeting();
  lastError_ = reply.error();
  if (!ok) {
    wrong_.fetch_add(1, std::memory_order_relaxed);
    shared_.noteProblem(
        !parsed ? fmt::format("connection {}: reply is not a HelloReply", index_)
        : !expected
            ? fmt::format("connection {}: reply without a request (seq {})", index_, reply.seq())
        : !reply.error().empty()
            ? fmt::format("connection {}: server error: {}", index_, reply.error())
            : fmt::format("connection {}: wrong reply: seq {} (expected {}), greeting '{}'", index_,
                          reply.seq(), expectedSeq_, reply.greeting().substr(0, 80)));
  } else {
    answered_.fetch_add(1, std::memory_order_relaxed);
    if (shared_.measuring.load(std::memory_order_relaxed)) {
      threadHistogram().record(now - inFlight_.front());
      measured_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (expected) {
    inFlight_.pop_front();
    ++expectedSeq_;
  }
  if (!reply.error().empty()) finish();  // the server closes after an error reply
}

void ClientConnection::checkStop() {
  if (closed_) return;
  const auto& plan = shared_.plan;
  const bool noMore = shared_.stopSending.load(std::memory_order_relaxed) ||
                      (plan.requestsPerConnection != 0 && nextSeq_ > plan.requestsPerConnection);
  if (noMore && inFlight_.empty()) finish();
}

void ClientConnection::onClosed(const std::error_code& ec, bool eof) {
  if (closed_) return;
  connError_.store(true, std::memory_order_relaxed);
  shared_.noteProblem(eof ? fmt::format("connection {}: server closed the connection with {} "
                                        "replies outstanding",
                                        index_, inFlight_.size())
                          : fmt::format("connection {}: {}", index_, ec.message()));
  finish();
}

void ClientConnection::onConnectFailed(const std::error_code& ec) {
  if (closed_) return;
  connError_.store(true, std::memory_order_relaxed);
  shared_.noteProblem(
      fmt::format("cannot connect to {}: {}", shared_.plan.server.toString(), ec.message()));
  finish();
}

void ClientConnection::finish() {
  closed_ = true;
  finished_.store(true, std::memory_order_release);
}

}  // namespace nioxx::demo
