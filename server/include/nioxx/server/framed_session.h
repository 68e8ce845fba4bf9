// FramedSession: everything a connection of a framed server does except I/O. The glue
// (reactive or proactive) reads bytes into readSpace(), commits them, writes what nextOutput()
// returns, and closes the socket when shouldClose() says so. The session splits the input into
// frames (its Framing: varint, length-prefixed or lines), hands them to the FrameService, queues
// the replies, and applies the limits:
//
// - max frame: a prefix declaring more, a varint longer than 5 bytes, or a line longer than the
//   limit gets one error reply after the replies to every earlier request; then the connection
//   closes (after the flush).
// - output cap: while more than outputCap reply bytes wait to be written, no further request is
//   decoded and wantsRead() is false, so the glue stops reading: a client that does not read its
//   replies is held back by TCP flow control instead of growing the server's memory. The bytes
//   waiting are the session's own (the nioxx glues write from nextOutput(), one write at a time:
//   consumeOutput() resumes at outputCap / 2), or, with setOutputBacklog(), also those a glue
//   handed to a write queue of its own (takeOutput(); resume() once that queue drained).
//
// Memory per connection is bounded by maxFrame + Framing::overhead() + kReadChunk of input and
// outputCap + one reply of output. Input comes in two ways:
// - readSpace()/commitRead(): the glue reads into the session's own buffer;
// - feed(): the glue reads into a buffer of its own (one per thread, or from a pool) and the
//   session answers the complete frames straight from it, keeping only what is left (a partial
//   frame, or input held back by the output cap). While inputEmpty(), that is the cheaper path,
//   and it is what keeps an idle connection at zero bytes of input buffer (issue 7).
//
// Thread rule: not synchronised; one thread at a time (the connection's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/frame_codec.h"
#include "nioxx/server/frame_service.h"
#include "nioxx/server/framing.h"
#include "nioxx/server/output_buffer.h"
#include "nioxx/server/server_stats.h"

namespace nioxx::server {

struct SessionLimits {
  std::size_t maxFrame = kDefaultMaxFrameSize;  // largest request payload (lines: line length)
  std::size_t outputCap = 256 * 1024;           // queued reply bytes before reading stops
};

class FramedSession {
 public:
  static constexpr std::size_t kReadChunk = 4096;  // initial and minimum free space offered

  // stats may be null (unit tests).
  FramedSession(std::unique_ptr<FrameService> service, SessionLimits limits, ServerStats* stats,
                Framing framing = Framing::varint());
  ~FramedSession();
  FramedSession(const FramedSession&) = delete;
  FramedSession& operator=(const FramedSession&) = delete;

  // --- input ---
  // True while the glue should read: the connection is open, no EOF was seen, and the output
  // backlog is under the cap.
  bool wantsRead() const noexcept;
  // Free space to read into (at least kReadChunk bytes, or what the current frame still needs).
  // Stable until commitRead(); precondition wantsRead().
  std::span<std::uint8_t> readSpace();
  // n bytes were read into readSpace(): decodes and answers every complete frame (up to the cap).
  void commitRead(std::size_t n);
  // True when the session holds no input it has not answered: the glue may read into a buffer of
  // its own and feed() it (else it must use readSpace()/commitRead() to keep the byte order).
  bool inputEmpty() const noexcept { return buffered() == 0; }
  // Answers the complete frames in bytes (up to the output cap) and copies the rest into the
  // session; bytes may be reused once feed() returns. Precondition: wantsRead().
  void feed(std::span<const std::uint8_t> bytes);
  // The peer sent EOF (or, during a graceful stop, the socket has nothing more for us): answers
  // what is complete and closes after the flush. A partial frame left at a real EOF gets an error
  // reply; at a graceful stop (truncatedIsError = false) it is dropped silently.
  void endOfInput(bool truncatedIsError = true);

  // --- output ---
  bool hasOutput() const noexcept { return !out_.empty(); }
  std::size_t pendingOutput() const noexcept { return out_.pending(); }
  // The next bytes to write; stays valid until consumeOutput(), even if replies are appended.
  std::span<const std::uint8_t> nextOutput() noexcept { return out_.next(); }
  // The same bytes as a buffer for a proactive write (which only reads it: ByteBuffer has no
  // read-only view), valid on the same terms.
  ByteBuffer nextOutputBuffer() noexcept {
    const auto out = out_.next();
    return ByteBuffer::wrap({const_cast<std::uint8_t*>(out.data()), out.size()});
  }
  // n bytes of nextOutput() were written. If this brings the backlog under the cap, decoding of
  // input already read resumes (so check wantsRead()/hasOutput() again afterwards).
  void consumeOutput(std::size_t n);

  // The glue writes through a queue of its own (takeOutput()): backlog(context) is the number of
  // bytes waiting there, counted against the output cap with the session's own.
  void setOutputBacklog(std::size_t (*backlog)(const void*), const void* context) noexcept {
    backlog_ = backlog;
    backlogContext_ = context;
  }
  // Moves every reply waiting in the session out (for a write the glue hands to its queue).
  std::string takeOutput();
  // n bytes of what takeOutput() returned were written by the glue's queue (statistics: bytes
  // sent, output bytes pending).
  void outputWritten(std::size_t n) noexcept;
  // The glue's queue drained (to its low water mark): decodes the input held back by the cap.
  void resume();
  // Decoding is paused by the output cap.
  bool paused() const noexcept { return blocked_; }

  // Frees the input and output buffers when they hold nothing (for connections gone idle: the
  // glue calls it from its idle sweep, not per request, so busy connections keep their memory).
  void releaseIdleMemory() noexcept;

  // --- lifetime ---
  // Replaces all further processing with one error reply (e.g. "too many connections").
  void reject(std::string_view reason);
  // True once the connection is finished: the close was decided and every reply was written.
  bool shouldClose() const noexcept { return closing_ && out_.empty(); }
  bool closing() const noexcept { return closing_; }
  // Counts for this connection (tests and logs).
  std::uint64_t requests() const noexcept { return requests_; }
  bool failed() const noexcept { return failed_; }

 private:
  void process();
  // Answers the complete frames at the start of src; returns the bytes consumed. Sets blocked_
  // (output cap) or fails the session (bad frame) as a side effect.
  std::size_t answer(std::span<const std::uint8_t> src);
  void finishIfEof();
  void fail(std::string reason);
  std::size_t buffered() const noexcept { return inEnd_ - inStart_; }
  // Counts the reply bytes appended since out_.back() held `before` bytes as pending output.
  void produced(std::size_t before) noexcept;

  std::unique_ptr<FrameService> service_;
  Framing framing_;
  SessionLimits limits_;
  ServerStats* stats_;
  std::vector<std::uint8_t> in_;  // unread-by-the-decoder bytes are [inStart_, inEnd_)
  std::size_t inStart_ = 0;
  std::size_t inEnd_ = 0;
  std::size_t needed_ = 0;    // total size of the frame at inStart_, when its prefix is known
  std::size_t searched_ = 0;  // bytes of the frame at inStart_ already scanned (FramingScan)
  OutputBuffer out_;
  bool eof_ = false;
  bool truncatedIsError_ = true;
  bool blocked_ = false;  // decoding paused by the output cap
  bool closing_ = false;
  bool failed_ = false;
  bool fed_ = false;  // the glue uses feed(): in_ only ever holds leftovers, so free it when empty
  std::uint64_t requests_ = 0;
  std::uint64_t unsent_ = 0;  // reply bytes produced and not yet written (the stats gauge's share)
  std::size_t (*backlog_)(const void*) = nullptr;
  const void* backlogContext_ = nullptr;
};

}  // namespace nioxx::server
