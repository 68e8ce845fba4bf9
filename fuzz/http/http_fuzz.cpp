// libFuzzer target for the HTTP server's request path: the bytes a client sends, fed through
// HttpSession (RequestParser over http-parser, DocumentRoot, response planning) in reads of
// pseudo-random sizes, each queued response "sent" (popped) as the glue does, then end of input
// and the header timeout.
//
// Oracle (independent of the parser):
//  - never crashes, leaks or trips ASan/UBSan;
//  - every response head is "HTTP/1.1 NNN Reason\r\n...\r\n\r\n" with a known status and a
//    Content-Length that matches the in-memory body (errors) or the planned file range, which lies
//    inside a regular file below the root (the secret next to the root is never planned);
//  - nothing is queued after a response that closes the connection, and the session ends
//    finished once input ends;
//  - DocumentRoot::decodePath never returns a path with a "." or ".." segment, a backslash or a
//    control byte.
//
// Input layout: byte 0 seeds the read sizes; the rest is the client's byte stream.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "http/http_session.h"

namespace {

using nioxx::http::DocumentRoot;
using nioxx::http::HttpSession;
using nioxx::http::Response;

std::unique_ptr<DocumentRoot> gRoot;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "oracle: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

void check(const Response& r) {
  const std::string& h = r.head;
  if (h.compare(0, 9, "HTTP/1.1 ") != 0 || h.size() < 13 || h[12] != ' ') fail("status line", h);
  static constexpr int kKnown[] = {200, 206, 301, 304, 400, 404, 405,
                                   408, 413, 414, 416, 431, 501, 505};
  const int status = std::atoi(h.c_str() + 9);
  bool known = false;
  for (int k : kKnown)
    known = known || k == status;
  if (!known || status != r.status) fail("status", h);
  const auto end = h.find("\r\n\r\n");
  if (end == std::string::npos) fail("no end of head", h);
  const std::size_t bodyInHead = h.size() - end - 4;
  const auto cl = h.find("\r\nContent-Length: ");
  if (status == 304) {
    if (cl != std::string::npos || bodyInHead != 0 || r.length != 0) fail("304 with a body", h);
    return;
  }
  if (cl == std::string::npos || cl > end) fail("no Content-Length", h);
  const long long length = std::atoll(h.c_str() + cl + 18);
  if (r.hasFile()) {
    struct stat st {};
    if (::fstat(r.file.file.fd(), &st) != 0 || !S_ISREG(st.st_mode)) fail("not a file", h);
    if (r.offset < 0 || r.offset + r.length > st.st_size || r.length != length) {
      fail("file range", h);
    }
    if (r.file.path.rfind(gRoot->realRoot() + "/", 0) != 0) fail("outside the root", r.file.path);
    if (bodyInHead != 0) fail("bytes after a file head", h);
  } else if (bodyInHead != 0 && static_cast<long long>(bodyInHead) != length) {
    fail("body length", h);  // 0 is HEAD's (or a file range sent elsewhere for HEAD: none)
  }
}

void drain(HttpSession& s, bool& closed) {
  while (s.hasResponse()) {
    if (closed) fail("response after a closing one", s.front().head);
    check(s.front());
    closed = s.front().close;
    s.pop();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char base[] = "/tmp/nioxx-http-fuzz-XXXXXX";
  if (::mkdtemp(base) == nullptr) std::abort();
  const std::string root = std::string(base) + "/www";
  ::mkdir(root.c_str(), 0755);
  ::mkdir((root + "/sub").c_str(), 0755);
  write(std::string(base) + "/secret.txt", "secret");
  write(root + "/index.html", "<h1>home</h1>\n");
  write(root + "/a.txt", "0123456789");
  write(root + "/sub/index.html", "sub\n");
  write(root + "/empty.txt", "");
  if (::symlink((std::string(base) + "/secret.txt").c_str(), (root + "/leak").c_str()) != 0 ||
      ::symlink("a.txt", (root + "/alias").c_str()) != 0) {
    std::abort();
  }
  gRoot = std::make_unique<DocumentRoot>(root);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint32_t rng = data[0] * 2654435761u + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  bool bad = false;
  if (auto path = DocumentRoot::decodePath(stream, bad)) {
    for (char c : *path) {
      if (c == '\\' || static_cast<unsigned char>(c) < 0x20) fail("decoded byte", *path);
    }
    if (path->find("/../") != std::string::npos || path->find("/./") != std::string::npos ||
        path->ends_with("/..") || path->ends_with("/.")) {
      fail("dot segment", *path);
    }
  }

  nioxx::http::SessionLimits limits;
  limits.parser.maxTarget = 256;  // small limits reach 414 / 431 within libFuzzer's -max_len
  limits.parser.maxHeaderBytes = 512;
  limits.maxPipelined = 1 + data[0] % 4;
  HttpSession session(*gRoot, limits);
  bool closed = false;
  std::size_t at = 0;
  while (at < stream.size()) {
    rng = rng * 1103515245u + 12345u;
    const std::size_t n = std::min<std::size_t>(stream.size() - at, 1 + (rng >> 16) % 64);
    session.feed(stream.substr(at, n));
    at += n;
    drain(session, closed);
  }
  session.headerTimeout();
  drain(session, closed);
  session.endOfInput();
  drain(session, closed);
  if (!session.finished()) fail("not finished after end of input", "");
  return 0;
}
