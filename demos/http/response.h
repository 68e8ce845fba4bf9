// Response planning: what to send for one request head (status, headers, and either a small
// in-memory body or a byte range of an open file), independent of how the bytes are moved.
// Both I/O glues send `head` first, then `length` bytes of `file` from `offset`.
//
// Thread rule: pure functions; a Response belongs to one connection.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "http/path_resolver.h"
#include "http/request_parser.h"

namespace nioxx::http {

struct Response {
  int status = 200;
  std::string head;    // status line, headers, blank line, and (errors) the short body
  ResolvedFile file;   // file.file.fd() >= 0 when file bytes follow the head
  off_t offset = 0;    // first file byte to send
  off_t length = 0;    // file bytes to send after the head (0 for HEAD, 304, errors)
  bool close = false;  // close the connection once this response is sent
  bool hasFile() const noexcept { return length > 0 && file.file.fd() >= 0; }
};

// The answer to a well-formed request head.
Response respond(const Request& request, const DocumentRoot& root);
// A complete error response (status 400, 404, 405, 408, 413, 414, 431, 501, 505, ...) with a short
// text body (omitted for HEAD). `close` adds "Connection: close".
Response errorResponse(int status, bool close, bool headRequest = false);

// Small-file path of the proactive glues: a file range of at most `max` bytes is read into the
// head (one write sends head and body; no transmitFile, no duplicated descriptor, no second
// write) and the file is closed. Called on the response about to be sent, so at most one such
// body per connection is in memory. False (response unchanged) if the range is larger, or the
// file cannot be read or ended early (the transmission then reports the short file as before).
bool inlineSmallBody(Response& r, std::size_t max);

// TCP_CORK on a connected socket: while on, partial segments wait, so a response head written
// before its file bytes shares their segments (as nginx's tcp_nopush and the reactive glue's
// MSG_MORE do); turning it off pushes what is pending. Only a packing hint: errors are ignored.
void setCork(int socketFd, bool on) noexcept;

std::string_view reasonPhrase(int status) noexcept;
std::string_view contentTypeFor(std::string_view path) noexcept;

// A single byte range of a representation of `size` bytes (RFC 9110 14.1.2).
struct ByteRange {
  enum class Kind { none, satisfiable, unsatisfiable } kind = Kind::none;
  off_t first = 0;
  off_t last = 0;  // inclusive
};
// "none" for no header, another unit, several ranges or bad syntax: the whole file is sent.
ByteRange parseRange(std::string_view header, off_t size) noexcept;

}  // namespace nioxx::http
