#include "nioxx/reactor/line_handler.h"

#include <algorithm>

namespace nioxx {

void LineHandler::onData(Connection& connection, ByteBuffer& input) {
  if (connection.isClosing()) done_ = true;  // e.g. closed from another thread
  while (!done_ && input.hasRemaining()) {
    const auto bytes = input.remainingSpan();
    const auto newline = std::find(bytes.begin(), bytes.end(), std::uint8_t{'\n'});
    const auto length = static_cast<std::size_t>(newline - bytes.begin());
    std::size_t lineLength = length;
    if (newline != bytes.end() && lineLength > 0 && bytes[lineLength - 1] == '\r') --lineLength;
    if (lineLength > maxLineBytes_ || (newline == bytes.end() && length > maxLineBytes_ + 1)) {
      // Too long, terminated or not ("+ 1": a partial line may still end in the "\r" of "\r\n").
      done_ = true;
      onLineTooLong(connection);
      connection.close();
      break;
    }
    if (newline == bytes.end()) return;  // a partial line: kept, presented again with more data
    input.advance(length + 1);           // before onLine: it may close (and so end this loop)
    onLine(connection, std::string_view(reinterpret_cast<const char*>(bytes.data()), lineLength));
    if (connection.isClosing()) done_ = true;
  }
  if (done_) input.position(input.limit());  // discarded: nothing accumulates after the close
}

}  // namespace nioxx
