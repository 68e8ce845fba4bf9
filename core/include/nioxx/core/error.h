// Error model: std::error_code everywhere. OS failures use std::system_category() with errno;
// framework failures use nioxx::Error in nioxx::errorCategory().
#pragma once

#include <cerrno>
#include <system_error>

namespace nioxx {

enum class Error {
  operation_aborted = 1,  // cancelled, closed or shut down before completion
  timed_out,              // an operation's timeout elapsed first
  read_pending,           // a read was initiated while another read is outstanding
  write_pending,          // a write was initiated while another write is outstanding (if not queued)
  frame_too_large,        // a frame's declared length exceeds the configured maximum
  malformed_frame,        // a length prefix is not a valid varint32 (longer than 5 bytes)
  closed,                 // the channel/selector/processor is closed
  end_of_stream,          // the peer closed before the operation could complete
  not_connected,          // the socket is not connected
  already_connected,      // connect() on a connected socket
  connection_pending,     // connect() while a connect is in progress
  queue_full,             // a bounded queue refused an item
  limit_exceeded,         // a configured limit (connections, backlog, ...) was reached
  invalid_argument,       // a call's argument is out of its documented range
};

const std::error_category& errorCategory() noexcept;

inline std::error_code make_error_code(Error e) noexcept {
  return {static_cast<int>(e), errorCategory()};
}

// The calling thread's errno as an error_code (system_category).
inline std::error_code lastError() noexcept { return {errno, std::system_category()}; }

}  // namespace nioxx

template <>
struct std::is_error_code_enum<nioxx::Error> : std::true_type {};
