#include "relay/relay.h"

#include <utility>

namespace nioxx::demo {

namespace {
void raiseMax(std::atomic<std::size_t>& max, std::size_t value) {
  std::size_t seen = max.load(std::memory_order_relaxed);
  while (value > seen && !max.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}
}  // namespace

Relay::Relay(AsyncSocket a, AsyncSocket b, Options options,
             std::function<void(const Relay&)> onDone)
    : options_(options), onDone_(std::move(onDone)) {
  pipes_[0].from = a;
  pipes_[0].to = b;
  pipes_[1].from = std::move(b);
  pipes_[1].to = std::move(a);
}

std::shared_ptr<Relay> Relay::start(AsyncSocket a, AsyncSocket b, Options options,
                                    std::function<void(const Relay&)> onDone) {
  auto relay = std::make_shared<Relay>(std::move(a), std::move(b), options, std::move(onDone));
  relay->self_ = relay;
  for (int dir = 0; dir < 2; ++dir) {
    Pipe& p = relay->pipes_[dir];
    p.to.setWriteBufferWatermarks(options.lowWatermark, options.highWatermark);
    // Weak: the handler lives as long as the socket, which may outlive the relay (a close()
    // that aborts the writes reports "writable" after their completions released the relay).
    p.to.onWritabilityChanged(
        [weak = std::weak_ptr<Relay>(relay), dir](AsyncSocket&, bool writable) {
          if (auto r = weak.lock(); r && writable) r->onWritable(dir);
        });
  }
  relay->readNext(0);
  relay->readNext(1);
  return relay;
}

void Relay::readNext(int dir) {
  Pipe& p = pipes_[dir];
  {
    std::lock_guard lock(p.mutex);
    if (done_.load(std::memory_order_acquire) || p.eof) return;
    if (!p.to.isWritable()) {
      // Backpressure: the other side's notification resumes us (see onWritable).
      p.waiting = true;
      stats_.pauses[dir].fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  p.from.read(ByteBuffer::allocate(options_.chunk),
              [self = shared_from_this(), dir](IoResult& r) { self->onRead(dir, r); });
}

void Relay::onWritable(int dir) {
  Pipe& p = pipes_[dir];
  {
    std::lock_guard lock(p.mutex);
    if (!p.waiting) return;
    p.waiting = false;
  }
  readNext(dir);
}

void Relay::onRead(int dir, IoResult& r) {
  Pipe& p = pipes_[dir];
  if (r.bytesTransferred() > 0 && !done_.load(std::memory_order_acquire)) {
    ByteBuffer& buf = r.buffer();
    buf.flip();
    {
      std::lock_guard lock(p.mutex);
      ++p.writing;
    }
    stats_.bytes[dir].fetch_add(r.bytesTransferred(), std::memory_order_relaxed);
    p.to.writeAll(std::move(buf),
                  [self = shared_from_this(), dir](IoResult& w) { self->onWritten(dir, w); });
    raiseMax(stats_.maxPending[dir], p.to.pendingWriteBytes());
  }
  if (r.success()) return readNext(dir);
  if (r.endOfStream()) {
    std::unique_lock lock(p.mutex);
    p.eof = true;
    return finishIfDrained(dir, lock);
  }
  fail();  // an error, or aborted by close()
}

void Relay::onWritten(int dir, IoResult& w) {
  if (!w.success()) return fail();
  Pipe& p = pipes_[dir];
  std::unique_lock lock(p.mutex);
  --p.writing;
  finishIfDrained(dir, lock);
}

// End of stream is forwarded after the last byte before it.
void Relay::finishIfDrained(int dir, std::unique_lock<std::mutex>& lock) {
  Pipe& p = pipes_[dir];
  if (!p.eof || p.writing != 0 || p.shutDown) return;
  p.shutDown = true;
  lock.unlock();
  p.to.shutdownOutput();
  if (open_.fetch_sub(1, std::memory_order_acq_rel) == 1) ended();
}

void Relay::fail() {
  ended();
}

void Relay::close() {
  ended();
}

void Relay::ended() {
  if (done_.exchange(true, std::memory_order_acq_rel)) return;
  pipes_[0].from.close();
  pipes_[1].from.close();
  if (onDone_) onDone_(*this);
  // The sockets' outstanding operations hold their own references to the relay.
  self_.reset();
}

}  // namespace nioxx::demo
