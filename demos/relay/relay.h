// Relay: a TCP relay in proactor style with backpressure. It forwards bytes between two connected
// AsyncSockets in both directions and reads from one side only while the other side is writable:
// a read completes, its buffer is written to the other side, and the next read is initiated only
// if that side's isWritable(); otherwise the direction waits for the other side's writability
// notification. So a slow receiver holds the relay back instead of growing its memory: per
// direction at most high water mark + one chunk of writes are queued, plus one read buffer.
//
// End of stream on one side is forwarded (shutdownOutput() once the writes before it are done);
// when both directions ended, or on any error, both sockets are closed and onDone runs once.
//
// Thread rule: start() from any thread; the relay then lives in the two sockets' handlers (it
// keeps itself alive until done). Stats from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "nioxx/proactor/async_socket.h"

namespace nioxx::demo {

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  struct Options {
    std::size_t chunk = 16 * 1024;  // bytes per read
    std::size_t lowWatermark = 64 * 1024;
    std::size_t highWatermark = 256 * 1024;
  };
  struct Stats {
    std::atomic<std::uint64_t> bytes[2] = {0, 0};     // forwarded a -> b, b -> a
    std::atomic<std::size_t> maxPending[2] = {0, 0};  // largest write backlog seen on b, on a
    std::atomic<std::uint64_t> pauses[2] = {0, 0};    // reads held back by an unwritable side
  };

  // Starts relaying between a and b (both connected). onDone runs once, on a handler thread.
  static std::shared_ptr<Relay> start(AsyncSocket a, AsyncSocket b, Options options,
                                      std::function<void(const Relay&)> onDone = {});

  const Stats& stats() const noexcept { return stats_; }
  // True from just before onDone runs: the stats are final.
  bool done() const noexcept { return done_.load(std::memory_order_acquire); }
  // Closes both sockets (any thread); onDone follows.
  void close();

  Relay(AsyncSocket a, AsyncSocket b, Options options, std::function<void(const Relay&)> onDone);

 private:
  // One direction: reads from `from`, writes to `to`.
  struct Pipe {
    AsyncSocket from;
    AsyncSocket to;
    std::mutex mutex;      // `from`'s read handler and `to`'s handlers may run at once
    bool waiting = false;  // a read is held back until `to` is writable again
    bool eof = false;      // `from` ended: shut `to` down once its writes are done
    bool shutDown = false;
    std::size_t writing = 0;  // writes to `to` not completed
  };

  void readNext(int dir);
  void onRead(int dir, IoResult& r);
  void onWritten(int dir, IoResult& r);
  void onWritable(int dir);
  void finishIfDrained(int dir, std::unique_lock<std::mutex>& lock);
  void fail();
  void ended();

  Options options_;
  std::function<void(const Relay&)> onDone_;
  Pipe pipes_[2];
  Stats stats_;
  std::atomic<int> open_{2};  // directions still running
  std::atomic<bool> done_{false};
  std::shared_ptr<Relay> self_;  // kept until done
};

}  // namespace nioxx::demo
