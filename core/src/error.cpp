#include "nioxx/core/error.h"

#include <string>

namespace nioxx {
namespace {

class NioxxCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "nioxx"; }
  std::string message(int value) const override {
    switch (static_cast<Error>(value)) {
      case Error::operation_aborted: return "operation aborted";
      case Error::timed_out: return "operation timed out";
      case Error::read_pending: return "a read is already pending on this channel";
      case Error::write_pending: return "a write is already pending on this channel";
      case Error::frame_too_large: return "frame length exceeds the maximum frame size";
      case Error::malformed_frame: return "malformed frame length prefix (varint longer than 5 bytes)";
      case Error::closed: return "channel closed";
      case Error::end_of_stream: return "end of stream: the peer closed the connection";
      case Error::not_connected: return "socket is not connected";
      case Error::already_connected: return "socket is already connected";
      case Error::connection_pending: return "a connect is already in progress";
      case Error::queue_full: return "queue is full";
      case Error::limit_exceeded: return "a configured limit was exceeded";
      case Error::invalid_argument: return "invalid argument";
    }
    return "unknown nioxx error " + std::to_string(value);
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<Error>(value)) {
      case Error::operation_aborted: return std::errc::operation_canceled;
      case Error::timed_out: return std::errc::timed_out;
      case Error::not_connected: return std::errc::not_connected;
      case Error::already_connected: return std::errc::already_connected;
      case Error::connection_pending: return std::errc::connection_already_in_progress;
      case Error::invalid_argument: return std::errc::invalid_argument;
      default: return {value, *this};
    }
  }
};

}  // namespace

const std::error_category& errorCategory() noexcept {
  static const NioxxCategory category;
  return category;
}

}  // namespace nioxx
