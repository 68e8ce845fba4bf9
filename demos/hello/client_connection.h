// ClientConnection: the protocol side of one hello_client connection, shared by the reactive and
// the proactive client glue (the same split as the server: only the I/O differs).
//
// It keeps `pipeline` requests outstanding, checks every reply (greeting text, seq, in order),
// records latencies and counts. The glue writes what output() holds, feeds what it reads into
// onBytes(), and closes the socket once finished().
//
// Thread rule: one thread at a time (the connection's), except the counters, which the
// controlling thread reads for the live progress line.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <system_error>

#include "common/latency_histogram.h"
#include "nioxx/core/frame_codec.h"
#include "nioxx/core/inet_socket_address.h"
#include "nioxx/server/output_buffer.h"

namespace nioxx::demo {

using ClientClock = std::chrono::steady_clock;

struct ClientPlan {
  InetSocketAddress server;
  std::string name = "world";
  std::size_t connections = 1;
  std::size_t pipeline = 1;
  std::uint64_t requestsPerConnection = 0;  // 0 = until stopSending
  std::size_t maxReplyFrame = 1 << 20;
};

// State shared by every connection of a run.
struct ClientShared {
  explicit ClientShared(ClientPlan p) : plan(std::move(p)) {}
  ClientPlan plan;
  std::atomic<bool> stopSending{false};
  std::atomic<bool> measuring{false};  // false during warmup: replies are checked, not timed
  std::mutex firstProblemMutex;
  std::string firstProblem;  // the first wrong reply / connection error, for the summary
  void noteProblem(const std::string& what);
};

// Per-thread latency histograms, merged at the end (a histogram per connection would cost
// 16 KiB x connections).
LatencyHistogram& threadHistogram();
LatencyHistogram mergedHistograms();

class ClientConnection {
 public:
  ClientConnection(ClientShared& shared, std::size_t index);

  // The connection is established: queues the first `pipeline` requests.
  void onConnected();
  // Bytes from the server: checks replies, queues follow-up requests.
  void onBytes(std::span<const std::uint8_t> bytes);
  // The server closed (eof) or the socket failed (ec); outstanding requests count as lost.
  void onClosed(const std::error_code& ec, bool eof);
  void onConnectFailed(const std::error_code& ec);
  // stopSending was set: finish once the outstanding replies are in.
  void checkStop();

  server::OutputBuffer& output() noexcept { return out_; }
  const ClientPlan& plan() const noexcept { return shared_.plan; }
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  std::size_t index() const noexcept { return index_; }

  // Counters (any thread).
  std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }
  std::uint64_t answered() const noexcept { return answered_.load(std::memory_order_relaxed); }
  std::uint64_t wrong() const noexcept { return wrong_.load(std::memory_order_relaxed); }
  std::uint64_t measured() const noexcept { return measured_.load(std::memory_order_relaxed); }
  bool connectionError() const noexcept { return connError_.load(std::memory_order_relaxed); }
  // The last reply's greeting / error (single-request mode). After finished().
  const std::string& lastGreeting() const noexcept { return lastGreeting_; }
  const std::string& lastError() const noexcept { return lastError_; }
  // Requests sent and not answered. After the run's threads were joined.
  std::size_t outstanding() const noexcept { return inFlight_.size(); }

 private:
  void topUp();
  void onReply(std::span<const std::uint8_t> frame);
  void finish();

  ClientShared& shared_;
  std::size_t index_;
  std::string expectedGreeting_;
  FrameDecoder decoder_;
  server::OutputBuffer out_;
  std::deque<ClientClock::time_point> inFlight_;  // send times, oldest first
  std::uint64_t nextSeq_ = 1;
  std::uint64_t expectedSeq_ = 1;
  bool closed_ = false;
  std::string lastGreeting_;
  std::string lastError_;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> answered_{0};  // correct replies
  std::atomic<std::uint64_t> wrong_{0};
  std::atomic<std::uint64_t> measured_{0};  // correct replies after warmup
  std::atomic<bool> connError_{false};
  std::atomic<bool> finished_{false};
};

}  // namespace nioxx::demo
