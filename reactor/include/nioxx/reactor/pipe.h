// Pipe: a unidirectional pair of channels (java.nio.channels.Pipe), on pipe2(O_NONBLOCK).
//
// Result convention of read/write: as SocketChannel (bytes, 0 = would block, -1 = end of
// stream or error with ec set). Thread rule: each end is used by one thread at a time; the two
// ends may be used by different threads (that is what a pipe is for).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <system_error>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/reactor/selectable_channel.h"

namespace nioxx {

class Pipe {
 public:
  class SourceChannel : public SelectableChannel {
   public:
    SourceChannel() = default;
    SourceChannel(SourceChannel&&) noexcept = default;
    SourceChannel& operator=(SourceChannel&&) noexcept = default;
    int validOps() const noexcept override { return SelectionKey::OP_READ; }
    std::int64_t read(ByteBuffer& dst, std::error_code& ec) noexcept;
    ssize_t readSome(void* data, std::size_t n) noexcept;  // raw read(2)

   private:
    friend class Pipe;
    explicit SourceChannel(int fd) noexcept : SelectableChannel(fd) {}
  };

  class SinkChannel : public SelectableChannel {
   public:
    SinkChannel() = default;
    SinkChannel(SinkChannel&&) noexcept = default;
    SinkChannel& operator=(SinkChannel&&) noexcept = default;
    int validOps() const noexcept override { return SelectionKey::OP_WRITE; }
    std::int64_t write(ByteBuffer& src, std::error_code& ec) noexcept;
    ssize_t writeSome(const void* data, std::size_t n) noexcept;  // raw write(2)

   private:
    friend class Pipe;
    explicit SinkChannel(int fd) noexcept : SelectableChannel(fd) {}
  };

  // Opens both ends, non-blocking and close-on-exec.
  static Pipe open(std::error_code& ec) noexcept;
  static Pipe open();  // throws std::system_error

  SourceChannel& source() noexcept { return source_; }
  SinkChannel& sink() noexcept { return sink_; }

 private:
  SourceChannel source_;
  SinkChannel sink_;
};

}  // namespace nioxx
