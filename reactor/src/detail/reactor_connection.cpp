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
  if (config_.pool == nullptr) {
    if (!input_.hasRemaining()) {
      if (input_.capacity() >= config_.maxInputBytes) {
        closeNow(make_error_code(Error::limit_exceeded));
        return;
      }
      ensureRoom(input_, config_.readBufferSize);
    }
    const auto n = channel_.read(input_, ec);
    if (n > 0) {
      deliverData();
    } else if (n < 0) {
      closeNow(ec);  // clear at end of stream
    }
    return;
  }
  input_.clear();
  const auto n = channel_.read(input_, ec);
  if (n < 0) {
    closeNow(ec);
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
  if (overLimit) closeNow(make_error_code(Error::limit_exceeded));
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
    if (closeAfterFlush_) closeNow({});
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
  auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
  // Always posted, so onClose never runs inside the onData that asked for the close.
  reactor_.post([self] {
    if (!self->isOpen() || self->closeAfterFlush_) return;
    if (self->outputOffset_ == self->output_.size()) {
      self->closeNow({});
      return;
    }
    self->closeAfterFlush_ = true;  // onWritable closes once the queue drains
    if (self->key_ != nullptr && self->key_->isValid()) {
      self->key_->interestOpsAnd(~SelectionKey::OP_READ);
    }
  });
}

void ReactorConnection::abort() {
  auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
  reactor_.post([self] { self->closeNow(make_error_code(Error::operation_aborted)); });
}

void ReactorConnection::closeNow(const std::error_code& reason) {
  if (!open_.exchange(false, std::memory_order_acq_rel)) return;
  auto self = shared_from_this();
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
      handler_->onData(*this, workInput_);
      workInput_.compact();
    }
    if (batch.writability != 0) deliverWritability(batch.writability);
    if (batch.close) handler_->onClose(*this, batch.reason);
    batch.clear();
  }
}

}  // namespace nioxx::detail
