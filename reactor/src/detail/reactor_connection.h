// ReactorConnection: the Connection implementation used by ReactorServer. It is the
// EventHandler of its channel's key (Doug Lea's Handler): reads into an input buffer, keeps an
// ordered output queue, and delivers ConnectionHandler callbacks either inline on the loop
// thread or, with a worker pool, through a per-connection serial queue on the pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "nioxx/core/serial_queue.h"
#include "nioxx/core/thread_pool.h"
#include "nioxx/reactor/connection.h"
#include "nioxx/reactor/reactor.h"
#include "nioxx/reactor/socket_channel.h"

namespace nioxx::detail {

class ReactorConnection final : public Connection, public EventHandler {
 public:
  struct Config {
    std::size_t readBufferSize;
    std::size_t maxInputBytes;
    ThreadPool* pool;  // null: callbacks on the loop thread
    std::size_t lowWatermark;
    std::size_t highWatermark;
    std::size_t writeLimit;
    // Orderly close: after the last byte is written, shut the write side and read (discarding)
    // until the peer's end of stream, for at most this long, then close. 0: close at once.
    std::chrono::milliseconds closeLinger;
  };
  // Called on the loop thread once the connection is closed, to drop the owner's reference.
  using OnClosed = std::function<void(std::uint64_t id)>;

  ReactorConnection(Reactor& reactor, SocketChannel channel, std::unique_ptr<ConnectionHandler> h,
                    std::uint64_t id, Config config, OnClosed onClosed);
  ~ReactorConnection() override;

  // Registers for OP_READ and delivers onOpen. Loop thread.
  void start();

  bool write(std::span<const std::uint8_t> bytes) override;
  using Connection::write;
  void close() override;
  void abort() override;
  std::size_t pendingWriteBytes() const noexcept override {
    return pending_.load(std::memory_order_acquire);
  }
  bool isOpen() const noexcept override { return open_.load(std::memory_order_acquire); }
  bool isClosing() const noexcept override {
    return closing_.load(std::memory_order_acquire) || !isOpen();
  }
  bool isWritable() const noexcept override { return (flips_.load() & 1U) == 0; }
  void setWriteBufferWatermarks(std::size_t low, std::size_t high) override;
  void setWriteBufferLimit(std::size_t bytes) override;
  const InetSocketAddress& remoteAddress() const noexcept override { return remote_; }
  Reactor& reactor() noexcept override { return reactor_; }
  std::uint64_t id() const noexcept override { return id_; }

  void handleEvent(SelectionKey& key) override;

  // Closes now with reason (loop thread).
  void closeNow(const std::error_code& reason);

 private:
  void onReadable();
  void closeInLoop();      // close(): flush, then lingerThenClose()
  void lingerThenClose();  // shutdown(SHUT_WR), drain until EOF or closeLinger, closeNow
  void inputLimitExceeded();
  void endOfInput();  // the peer shut its side: answer what it sent, then close
  void onWritable();
  void writeInLoop(const std::uint8_t* data, std::size_t n, std::size_t counted);
  void deliverData();  // loop mode: onData on input_
  // Backpressure (connection_writability.cpp): pending_ changed, or the water marks did; a
  // transition is reported from the loop, never inside the write() that made it.
  bool reserve(std::size_t n) noexcept;  // false: beyond the limit
  void addPending(std::size_t n) noexcept;
  void subPending(std::size_t n) noexcept;
  void updateWritability() noexcept;
  void reportWritability(std::uint64_t flip);   // loop thread
  void deliverWritability(std::uint64_t upTo);  // the callbacks' thread
  // Worker mode: events go to the pool through events_, one drain task at a time.
  void scheduleDrain();  // after an add() that found events_ idle
  void drainOnPool();

  Reactor& reactor_;
  SocketChannel channel_;
  std::unique_ptr<ConnectionHandler> handler_;
  std::uint64_t id_;
  Config config_;
  OnClosed onClosed_;
  InetSocketAddress remote_;
  SelectionKey* key_ = nullptr;

  std::atomic<bool> open_{true};
  std::atomic<bool> closing_{false};  // close() or abort() was called
  bool closeAfterFlush_ = false;      // loop thread
  bool lingering_ = false;            // loop thread: output shut, draining input until EOF
  TimerId lingerTimer_{};             // loop thread
  std::error_code closeReason_;       // loop thread: what onClose reports after an orderly close
  ByteBuffer input_;                  // loop thread (loop mode: also the handler's input)
  std::vector<std::uint8_t> output_;
  std::size_t outputOffset_ = 0;
  // Bytes in output_ past outputOffset_, plus those of writes posted but not yet run.
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::size_t> low_;
  std::atomic<std::size_t> high_;
  std::atomic<std::size_t> limit_;
  std::atomic<std::uint64_t> flips_{0};  // writability transitions; odd: unwritable
  std::uint64_t delivered_ = 0;          // transitions reported (the callbacks' thread)

  // Worker mode: the events the pool has yet to deliver, always in this order.
  struct PoolEvents {
    bool open = false;
    std::vector<std::uint8_t> data;
    bool close = false;
    std::error_code reason;
    std::uint64_t writability = 0;  // report transitions up to this one (0: none)
    bool limitExceeded = false;     // maxInputBytes reached: onInputLimitExceeded, then close
    bool inputEnded = false;        // end of stream after the data: close once it is handled
    bool empty() const noexcept {
      return !open && data.empty() && !close && writability == 0 && !limitExceeded && !inputEnded;
    }
    void clear() noexcept {
      open = false;
      writability = 0;
      limitExceeded = false;
      inputEnded = false;
      data.clear();  // keeps the capacity: the buffers are swapped back and forth
      close = false;
    }
  };
  using EventQueue = SerialQueue<PoolEvents>;
  EventQueue events_;
  ByteBuffer workInput_;        // pool side, one task at a time
  bool limitReported_ = false;  // pool side: onInputLimitExceeded ran, no more onData
};

}  // namespace nioxx::detail
