// Connection and ConnectionHandler: the per-connection object and the user callback interface
// used by ReactorServer (Doug Lea's "Handler"), so an application writes only a handler.
//
// A Connection owns its SocketChannel, reads into an input buffer, keeps an ordered output
// queue (partial writes enable OP_WRITE until drained) and closes itself on end of stream or
// error. It is shared-owned: a handler or a worker may keep a std::shared_ptr to it; after close
// every call is a harmless no-op.
//
// Thread rule of the callbacks: with Concurrency::worker_pool they run on pool threads,
// serialised per connection (never two at once for one connection, always in order); in every
// other mode they run on the connection's loop thread. write()/close() are safe from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/inet_socket_address.h"

namespace nioxx {

class Connection;
class Reactor;

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // Once, before any onData.
  virtual void onOpen(Connection& connection) { (void)connection; }
  // New bytes arrived. input is in drain mode (position..limit = unconsumed bytes); consume
  // what you can by advancing its position (get(), advance()); the unconsumed rest is kept and
  // presented again, followed by more data, at the next call.
  virtual void onData(Connection& connection, ByteBuffer& input) = 0;
  // The connection's output queue crossed a water mark (Connection::isWritable() changed): once
  // per transition, alternating false / true, under the same thread rule as the other callbacks
  // and never inside the write() that caused it. A handler that produces output stops reading
  // (or producing) on false and resumes on true. Never after onClose.
  virtual void onWritabilityChanged(Connection& connection, bool writable) {
    (void)connection;
    (void)writable;
  }
  // The unconsumed input reached ReactorServer::Options::maxInputBytes: no more input will be
  // delivered. The place to write an error reply (connection.write("ERR request too large\n")):
  // the connection is then closed after that reply as by close(), and onClose reports
  // Error::limit_exceeded.
  virtual void onInputLimitExceeded(Connection& connection) { (void)connection; }
  // Once, last. reason is clear for an orderly close (end of stream, close()), else the error.
  virtual void onClose(Connection& connection, const std::error_code& reason) {
    (void)connection;
    (void)reason;
  }
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  virtual ~Connection() = default;

  // Queues bytes for sending, in order; on the loop thread it first tries to write at once.
  // Off the loop thread the bytes are copied and the write hops to the loop. Returns false
  // (bytes dropped) if the connection is closed or closing, or if the queued bytes plus these
  // would exceed the write buffer limit (bytes are never dropped from an empty queue). Any thread.
  virtual bool write(std::span<const std::uint8_t> bytes) = 0;
  bool write(std::string_view bytes) {
    return write(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  }
  // Closes after the queued output is flushed, so a final reply is delivered: the write side is
  // shut down, input is read and discarded until the peer's end of stream (at most
  // ReactorServer::Options::closeLinger), then the socket is closed. Closing with unread input
  // at once would make the kernel send an RST, which can destroy the reply before the peer read
  // it. onClose then reports a clear reason. Any thread.
  virtual void close() = 0;
  // Closes at once, dropping queued output. Any thread.
  virtual void abort() = 0;

  // Bytes queued but not yet accepted by the kernel (for backpressure). Any thread.
  virtual std::size_t pendingWriteBytes() const noexcept = 0;
  // Backpressure, as on the proactive side: false once pendingWriteBytes() rose above the high
  // water mark, true again once it is at or below the low one (ConnectionHandler::
  // onWritabilityChanged reports each change). Defaults: ReactorServer::Options. Any thread.
  virtual bool isWritable() const noexcept = 0;
  // low <= high, else std::invalid_argument. Any thread.
  virtual void setWriteBufferWatermarks(std::size_t low, std::size_t high) = 0;
  virtual void setWriteBufferLimit(std::size_t bytes) = 0;
  virtual bool isOpen() const noexcept = 0;
  // True from the first close() or abort() on (the connection may still be flushing), or once
  // closed: a handler that asked for a close can tell that later input is to be ignored. Any
  // thread.
  virtual bool isClosing() const noexcept { return !isOpen(); }
  virtual const InetSocketAddress& remoteAddress() const noexcept = 0;
  // The reactor whose loop thread does this connection's I/O.
  virtual Reactor& reactor() noexcept = 0;
  // Unique per ReactorServer, increasing.
  virtual std::uint64_t id() const noexcept = 0;
};

}  // namespace nioxx
