// LineHandler: a ConnectionHandler for line protocols (text commands such as "GET key", SMTP,
// Redis' inline commands), so a ReactorServer handler deals in whole lines, not byte chunks.
//
// Input is split at "\n"; a "\r" before it is dropped too ("\r\n" and "\n" both end a line).
// A line longer than maxLineBytes (without its terminator) is a protocol error: onLineTooLong()
// runs once (the place to write an error reply), then the connection is closed after the output
// queued so far, and the rest of the input is discarded. Lines after a close() made by onLine
// (e.g. for a "QUIT") are discarded too.
//
// Thread rule: that of every ConnectionHandler (ReactorServer's Concurrency decides).
#pragma once

#include <cstddef>
#include <string_view>

#include "nioxx/reactor/connection.h"

namespace nioxx {

class LineHandler : public ConnectionHandler {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = 8 * 1024;
  explicit LineHandler(std::size_t maxLineBytes = kDefaultMaxLineBytes) noexcept
      : maxLineBytes_(maxLineBytes) {}

  // One whole line, without its terminator. The view is valid during the call only.
  virtual void onLine(Connection& connection, std::string_view line) = 0;
  // A line exceeded maxLineBytes. Write a reply here if the protocol has one; the connection is
  // closed (after that reply) when this returns.
  virtual void onLineTooLong(Connection& connection) { (void)connection; }

  void onData(Connection& connection, ByteBuffer& input) final;
  std::size_t maxLineBytes() const noexcept { return maxLineBytes_; }

 private:
  std::size_t maxLineBytes_;
  bool done_ = false;  // closed by us (too long) or by onLine: the rest is discarded
};

}  // namespace nioxx
