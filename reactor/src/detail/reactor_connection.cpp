#include "detail/reactor_connection.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "nioxx/core/error.h"
#include "nioxx/core/log.h"

namespace nioxx::detail {

namespace {
// Grows buf (fill mode) so at least `need` bytes fit after its position, keeping its content.
void ensureRoom(ByteBuffer& buf, std::size_t need) {
  if (buf.remaining() >= need) return;
  const std::size_t capacity = std::max(buf.capacity() * 2, buf.position() + need);
  ByteBuffer grown = ByteBuffer::allocate(capacity);
  buf.flip();
  grown.put(buf);
  buf = std::move(grown);
}
}  // namespace

ReactorConnection::ReactorConnection(Reactor& reactor, SocketChannel channel,
                                     std::unique_ptr<ConnectionHandler> handler, std::uint64_t id,
                                     Config config, OnClosed onClosed)
    : reactor_(reactor),
      channel_(std::move(channel)),
      handler_(std::move(handler)),
      id_(id),
      config_(config),
      onClosed_(std::move(onClosed)),
      remote_(channel_.remoteAddress().value_or(InetSocketAddress{})),
      input_(ByteBuffer::allocate(config.readBufferSize)),
      low_(config.lowWatermark),
      high_(config.highWatermark),
      limit_(config.writeLimit) {}

ReactorConnection::~ReactorConnection() = default;

void ReactorConnection::start() {
  key_ = &reactor_.registerHandler(channel_, SelectionKey::OP_READ, *this);
  if (config_.pool != nullptr) {
    if (events_.add([](PoolEvents& e) noexcept { e.open = true; }) ==
        EventQueue::Added::scheduled) {
      scheduleDrain();
    }
  } else {
    handler_->onOpen(*this);
  }
}

void ReactorConnection::handleEvent(SelectionKey& key) {
  auto self = shared_from_this();  // the handler may close (and so release) us
  const int ready = key.readyOps();
  if ((ready & SelectionKey::OP_READ) != 0) onReadable();
  if ((ready & SelectionKey::OP_WRITE) != 0 && key.isValid()) onWritable();
}

void ReactorConnection::onReadable() {
  std::error_code ec;
  if (lingering_) {  // our output is shut: read and discard until the peer's end of stream
    input_.clear();
    if (channel_.read(input_, ec) < 0) closeNow(closeReason_);
    return;
  }
  if (config_.pool == nullptr) {
    if (!input_.hasRemaining()) {
      if (input_.capacity() >= config_.maxInputBytes) {
        inputLimitExceeded();
        return;
      }
      ensureRoom(input_, config_.readBufferSize);
    }
    const auto n = channel_.read(input_, ec);
    if (n > 0) {
      deliverData();
    } else if (n < 0) {
      ec ? closeNow(ec) : endOfInput();
    }
    return;
  }
  input_.clear();
  const auto n = channel_.read(input_, ec);
  if (n < 0) {
    ec ? closeNow(ec) : endOfInput();
    return;
  }
  if (n == 0) return;
  bool overLimit = false;
  const auto added = events_.add([&](PoolEvents& e) {
    if (e.data.size() + static_cast<std::size_t>(n) > config_.maxInputBytes) {
      overLimit = true;
    } else {
      e.data.insert(e.data.end(), input_.array(), input_.array() + n);
    }
  });
  if (added == EventQueue::Added::scheduled) scheduleDrain();
  if (overLimit) inputLimitExceeded();
}

// The handler may answer (onInputLimitExceeded), then the connection closes after that answer;
// no more input is delivered.
void ReactorConnection::inputLimitExceeded() {
  closing_.store(true, std::memory_order_release);
  closeReason_ = make_error_code(Error::limit_exceeded);
  if (key_ != nullptr && key_->isValid()) key_->interestOpsAnd(~SelectionKey::OP_READ);
  if (config_.pool != nullptr) {  // on the pool, in order after the data before it
    const auto added = events_.add([](PoolEvents& e) noexcept { e.limitExceeded = true; });
    if (added == EventQueue::Added::scheduled) scheduleDrain();
    return;  // drainOnPool calls close() after the handler
  }
  handler_->onInputLimitExceeded(*this);
  closeInLoop();
}

// A peer that shuts its write side after a request (`nc -N`, HTTP/1.0 clients) still reads the
// reply: with a pool the handler may not have seen the data yet, and in loop mode replies may
// still be queued. Close once they are out, as close() does; a clear reason for onClose.
void ReactorConnection::endOfInput() {
  if (key_ != nullptr && key_->isValid()) key_->interestOpsAnd(~SelectionKey::OP_READ);
  if (config_.pool != nullptr) {
    const auto added = events_.add([](PoolEvents& e) noexcept { e.inputEnded = true; });
    if (added == EventQueue::Added::scheduled) scheduleDrain();
    return;  // drainOnPool asks the loop to close after the handler
  }
  if (outputOffset_ == output_.size()) return closeNow({});
  closeInLoop();
}

void ReactorConnection::deliverData() {
  input_.flip();
  handler_->onData(*this, input_);
  input_.compact();
}

void ReactorConnection::onWritable() {
  const std::size_t left = output_.size() - outputOffset_;
  if (left > 0) {
    const ssize_t n = channel_.writeSome(output_.data() + outputOffset_, left);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) closeNow(lastError());
      return;
    }
    outputOffset_ += static_cast<std::size_t>(n);
    subPending(static_cast<std::size_t>(n));
  }
  if (outputOffset_ == output_.size()) {
    output_.clear();
    outputOffset_ = 0;
    if (key_ != nullptr && key_->isValid()) key_->interestOpsAnd(~SelectionKey::OP_WRITE);
    if (closeAfterFlush_ && !lingering_) lingerThenClose();
  }
}

// counted: bytes of this write already in pending_ (a write posted from another thread).
void ReactorConnection::writeInLoop(const std::uint8_t* data, std::size_t n, std::size_t counted) {
  if (!isOpen() || closeAfterFlush_) return subPending(counted);
  if (outputOffset_ == output_.size()) {  // nothing queued: try at once (no OP_WRITE round trip)
    const ssize_t w = channel_.writeSome(data, n);
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        const std::error_code ec = lastError();
        subPending(counted);
        closeNow(ec);
        return;
      }
    } else {
      data += w;
      n -= static_cast<std::size_t>(w);
    }
    if (n == 0) return subPending(counted);
    output_.clear();
    outputOffset_ = 0;
  }
  output_.insert(output_.end(), data, data + n);
  if (n > counted) {
    addPending(n - counted);
  } else {
    subPending(counted - n);
  }
  if (key_ != nullptr && key_->isValid()) key_->interestOpsOr(SelectionKey::OP_WRITE);
}

bool ReactorConnection::write(std::span<const std::uint8_t> bytes) {
  if (!isOpen()) return false;
  if (reactor_.isInLoopThread()) {
    if (closeAfterFlush_) return false;
    const std::size_t queued = pending_.load();
    const std::size_t limit = limit_.load(std::memory_order_relaxed);
    if (queued > 0 && bytes.size() > limit - std::min(queued, limit)) return false;
    writeInLoop(bytes.data(), bytes.size(), 0);
    return true;
  }
  if (!reserve(bytes.size())) return false;
  auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
  reactor_.post([self, copy = std::vector<std::uint8_t>(bytes.begin(), bytes.end())] {
    self->writeInLoop(copy.data(), copy.size(), copy.size());
  });
  return true;
}

void ReactorConnection::close() {
  closing_.store(true, std::memory_order_release);
  auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
  // Always posted, so onClose never runs inside the onData that asked for the close.
  reactor_.post([self] { self->closeInLoop(); });
}

void ReactorConnection::closeInLoop() {
  if (!isOpen() || closeAfterFlush_) return;
  closeAfterFlush_ = true;  // no more writes accepted
  if (outputOffset_ == output_.size()) {
    lingerThenClose();
    return;
  }
  // onWritable lingers, then closes once the queue drains.
  if (key_ != nullptr && key_->isValid()) key_->interestOpsAnd(~SelectionKey::OP_READ);
}

// Closing a socket whose receive queue holds unread bytes makes the kernel send an RST, which
// may destroy replies the peer has not read yet (the final "ERR ..." line). So: shut our write
// side (the peer reads everything, then end of stream), keep reading and discarding until the
// peer closes too, and close then, or after closeLinger at the latest.
void ReactorConnection::lingerThenClose() {
  std::error_code ec;
  if (config_.closeLinger.count() <= 0 || key_ == nullptr || !key_->isValid()) {
    return closeNow(closeReason_);
  }
  channel_.shutdownOutput(ec);
  if (ec) return closeNow(closeReason_);
  lingering_ = true;
  key_->interestOps(SelectionKey::OP_READ);
  std::weak_ptr<Connection> weak = shared_from_this();
  lingerTimer_ = reactor_.schedule(config_.closeLinger, [weak, this] {
    if (auto self = weak.lock()) {
      lingerTimer_ = {};
      closeNow(closeReason_);
    }
  });
}

void ReactorConnection::abort() {
  closing_.store(true, std::memory_order_release);
  auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
  reactor_.post([self] { self->closeNow(make_error_code(Error::operation_aborted)); });
}

void ReactorConnection::closeNow(const std::error_code& reason) {
  if (!open_.exchange(false, std::memory_order_acq_rel)) return;
  auto self = shared_from_this();
  if (lingerTimer_) reactor_.cancelTimer(std::exchange(lingerTimer_, TimerId{}));
  channel_.close();  // cancels the key: no further handleEvent
  key_ = nullptr;
  // Take back only the bytes dropped here: writes posted from other threads are counted too,
  // and each takes its own bytes back when it reaches the loop (a reset to 0 would make those
  // subtractions wrap the counter).
  subPending(output_.size() - outputOffset_);
  output_.clear();
  outputOffset_ = 0;
  if (config_.pool != nullptr) {
    const auto added = events_.add([&reason](PoolEvents& e) noexcept {
      e.close = true;
      e.reason = reason;
    });
    if (added == EventQueue::Added::scheduled) scheduleDrain();
  } else {
    handler_->onClose(*this, reason);
  }
  if (onClosed_) onClosed_(id_);
}

// Events are added on the loop thread only, so no other add() can slip in before unschedule().
void ReactorConnection::scheduleDrain() {
  auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
  if (!config_.pool->submit([self] { self->drainOnPool(); })) {
    events_.unschedule();  // the next event tries again
    log::get("reactor")->warn("connection {}: worker pool refused a task (full or stopped)", id_);
  }
}

void ReactorConnection::drainOnPool() {
  PoolEvents batch;
  while (events_.take(batch)) {
    if (batch.open) handler_->onOpen(*this);
    if (!batch.data.empty()) {
      ensureRoom(workInput_, batch.data.size());
      workInput_.put(std::span<const std::uint8_t>(batch.data));
      workInput_.flip();
      if (!limitReported_) handler_->onData(*this, workInput_);
      workInput_.compact();
      // The handler's unconsumed input counts against the limit as in loop mode.
      if (workInput_.position() >= config_.maxInputBytes) batch.limitExceeded = true;
    }
    if (batch.writability != 0) deliverWritability(batch.writability);
    if (batch.limitExceeded && !limitReported_) {
      limitReported_ = true;  // no more onData
      closing_.store(true, std::memory_order_release);
      handler_->onInputLimitExceeded(*this);
      auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
      reactor_.post([self] {
        self->closeReason_ = make_error_code(Error::limit_exceeded);
        self->closeInLoop();
      });
    }
    if (batch.inputEnded && !batch.close) {
      auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
      reactor_.post([self] { self->closeInLoop(); });
    }
    if (batch.close) handler_->onClose(*this, batch.reason);
    batch.clear();
  }
}

}  // namespace nioxx::detail
