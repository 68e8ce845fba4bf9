#include "http/response.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <ctime>

#include "http/ascii.h"
#include "http/http_date.h"

namespace nioxx::http {
namespace {

// The Date header changes once a second: format it once a second per thread.
const std::string& now() {
  thread_local std::time_t cachedAt = 0;
  thread_local std::string cached;
  const std::time_t t = std::time(nullptr);
  if (t != cachedAt) {
    cachedAt = t;
    cached = formatHttpDate(t);
  }
  return cached;
}

void statusLine(std::string& out, int status) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reasonPhrase(status);
  out += "\r\nServer: nioxx\r\nDate: ";
  out += now();
  out += "\r\n";
}

void header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void connection(std::string& out, const Request& r, bool close) {
  if (close) {
    header(out, "Connection", "close");
  } else if (r.versionMinor == 0) {
    header(out, "Connection", "keep-alive");  // HTTP/1.0 keeps alive only when told so
  }
}

bool parseNumber(std::string_view s, off_t& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0;
}

}  // namespace

std::string_view reasonPhrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string_view contentTypeFor(std::string_view path) noexcept {
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  const std::string_view ext = path.substr(dot + 1);
  struct Entry {
    std::string_view ext, type;
  };
  static constexpr Entry kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"wasm", "application/wasm"},
      {"pdf", "application/pdf"},
  };
  for (const auto& e : kTypes) {
    if (iequalsAscii(ext, e.ext)) {
      return e.type;
    }
  }
  return "application/octet-stream";
}

ByteRange parseRange(std::string_view h, off_t size) noexcept {
  ByteRange r;
  constexpr std::string_view kUnit = "bytes=";
  if (!istartsWithAscii(h, kUnit)) {
    return r;
  }
  h.remove_prefix(kUnit.size());
  while (!h.empty() && h.front() == ' ')
    h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ')
    h.remove_suffix(1);
  const auto dash = h.find('-');
  if (dash == std::string_view::npos || h.find(',') != std::string_view::npos) return r;
  const std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  off_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last b bytes
    if (!parseNumber(b, last)) return r;
    if (last == 0 || size == 0) {
      r.kind = ByteRange::Kind::unsatisfiable;
      return r;
    }
    r.kind = ByteRange::Kind::satisfiable;
    r.first = last >= size ? 0 : size - last;
    r.last = size - 1;
    return r;
  }
  if (!parseNumber(a, first)) return r;
  if (b.empty()) {
    last = size - 1;
  } else if (!parseNumber(b, last) || last < first) {
    return r;  // invalid: ignored
  }
  if (first >= size) {
    r.kind = ByteRange::Kind::unsatisfiable;
    return r;
  }
  r.kind = ByteRange::Kind::satisfiable;
  r.first = first;
  r.last = last >= size ? size - 1 : last;
  return r;
}

Response errorResponse(int status, bool close, bool headRequest) {
  Response r;
  r.status = status;
  r.close = close;
  const std::string body = std::to_string(status) + " " + std::string(reasonPhrase(status)) + "\n";
  statusLine(r.head, status);
  header(r.head, "Content-Type", "text/plain; charset=utf-8");
  header(r.head, "Content-Length", std::to_string(body.size()));
  if (status == 405) header(r.head, "Allow", "GET, HEAD");
  if (close) header(r.head, "Connection", "close");
  r.head += "\r\n";
  if (!headRequest) r.head += body;
  return r;
}

// An error answer to a well-formed request: as errorResponse(), plus HTTP/1.0's keep-alive.
static Response requestError(const Request& req, int status, bool close, bool head) {
  Response e = errorResponse(status, close, head);
  if (!close && req.versionMinor == 0) {
    e.head.insert(e.head.find("\r\n\r\n") + 2, "Connection: keep-alive\r\n");
  }
  return e;
}

Response respond(const Request& req, const DocumentRoot& root) {
  const bool head = req.method == "HEAD";
  if (req.method != "GET" && !head) {
    // A body we will not read makes the rest of the stream unparseable: close after answering.
    return requestError(req, 405, !req.keepAlive || req.hasBody, head);
  }
  if (req.hasBody) return errorResponse(413, true, head);

  Resolution res = root.resolve(req.target);
  if (res.kind == Resolution::Kind::bad_request)
    return requestError(req, 400, !req.keepAlive, head);
  if (res.kind == Resolution::Kind::not_found) return requestError(req, 404, !req.keepAlive, head);
  Response r;
  r.close = !req.keepAlive;
  if (res.kind == Resolution::Kind::redirect) {
    r.status = 301;
    statusLine(r.head, 301);
    header(r.head, "Location", res.location);
    header(r.head, "Content-Length", "0");
    connection(r.head, req, r.close);
    r.head += "\r\n";
    return r;
  }

  ResolvedFile& file = res.file;
  const std::string lastModified = formatHttpDate(file.mtime);
  if (!req.ifModifiedSince.empty()) {
    if (auto since = parseHttpDate(req.ifModifiedSince); since && file.mtime <= *since) {
      r.status = 304;
      statusLine(r.head, 304);
      header(r.head, "Last-Modified", lastModified);
      connection(r.head, req, r.close);
      r.head += "\r\n";
      return r;
    }
  }
  ByteRange range;
  // If-Range: the range applies only to the representation the client already has.
  if (!req.range.empty() && (req.ifRange.empty() || req.ifRange == lastModified)) {
    range = parseRange(req.range, file.size);
  }
  if (range.kind == ByteRange::Kind::unsatisfiable) {
    Response e = requestError(req, 416, r.close, head);
    // Content-Range goes before the blank line.
    const auto end = e.head.find("\r\n\r\n");
    e.head.insert(end + 2, "Content-Range: bytes */" + std::to_string(file.size) + "\r\n");
    return e;
  }
  const bool partial = range.kind == ByteRange::Kind::satisfiable;
  r.status = partial ? 206 : 200;
  r.offset = partial ? range.first : 0;
  const off_t length = partial ? range.last - range.first + 1 : file.size;
  statusLine(r.head, r.status);
  header(r.head, "Content-Type", contentTypeFor(file.path));
  header(r.head, "Content-Length", std::to_string(length));
  header(r.head, "Last-Modified", lastModified);
  header(r.head, "Accept-Ranges", "bytes");
  if (partial) {
    header(r.head, "Content-Range",
           "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
               std::to_string(file.size));
  }
  connection(r.head, req, r.close);
  r.head += "\r\n";
  if (!head && length > 0) {
    r.length = length;
    r.file = std::move(file);
  }
  return r;
}

bool inlineSmallBody(Response& r, std::size_t max) {
  if (!r.hasFile() || static_cast<std::uint64_t>(r.length) > max) return false;
  const std::size_t headSize = r.head.size();
  const auto length = static_cast<std::size_t>(r.length);
  r.head.resize(headSize + length);
  std::size_t got = 0;
  while (got < length) {
    const ssize_t n = ::pread(r.file.file.fd(), r.head.data() + headSize + got, length - got,
                              r.offset + static_cast<off_t>(got));
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    r.head.resize(headSize);  // 0 (shrank) or an error: leave it to the file path
    return false;
  }
  r.file.file = FileHandle();  // closes it
  r.length = 0;
  return true;
}

void setCork(int socketFd, bool on) noexcept {
  const int value = on ? 1 : 0;
  (void)::setsockopt(socketFd, IPPROTO_TCP, TCP_CORK, &value, sizeof value);
}

}  // namespace nioxx::http
