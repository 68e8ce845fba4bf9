// RequestParser: HTTP/1.1 request heads out of a byte stream, one request at a time, over Node's
// http-parser (Debian's libhttp-parser-dev). Besides what http-parser checks (request-line and
// header syntax, Content-Length / Transfer-Encoding framing) it enforces the server's limits and
// keeps only the headers a static file server uses.
//
// A request body is never read: a request announcing one is answered (405 or 413) and the
// connection closed, so the parser never has to skip a body.
//
// Thread rule: one connection's, used by one thread at a time.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace nioxx::http {

struct ParserLimits {
  std::size_t maxTarget = 8 * 1024;        // request-target bytes; beyond: 414
  std::size_t maxHeaderBytes = 16 * 1024;  // header field + value bytes; beyond: 431
};

struct Request {
  std::string method;  // "GET", "HEAD", ... (as http-parser knows them)
  std::string target;  // the raw request-target, undecoded
  int versionMajor = 1;
  int versionMinor = 1;
  bool keepAlive = true;  // http-parser's verdict (version + Connection header)
  bool hasBody = false;   // Content-Length > 0 or Transfer-Encoding: chunked
  std::string range;      // Range header, if any
  std::string ifModifiedSince;
  std::string ifRange;
};

class RequestParser {
 public:
  enum class Outcome {
    need_more,  // every byte consumed, no complete request head yet
    request,    // request() holds a complete request head
    error,      // errorStatus() says which; the connection must close after the answer
  };

  explicit RequestParser(ParserLimits limits = {});
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses from data; sets consumed to the bytes used. After `request`, call again with the rest
  // (pipelining); after `error`, the parser is done.
  Outcome parse(std::string_view data, std::size_t& consumed);
  const Request& request() const noexcept { return request_; }
  int errorStatus() const noexcept { return errorStatus_; }
  // True between the first byte of a request and its complete head (a 408 candidate).
  bool midRequest() const noexcept { return midRequest_; }

 private:
  static int onMessageBegin(http_parser* p);
  static int onUrl(http_parser* p, const char* at, std::size_t n);
  static int onHeaderField(http_parser* p, const char* at, std::size_t n);
  static int onHeaderValue(http_parser* p, const char* at, std::size_t n);
  static int onHeadersComplete(http_parser* p);
  static int onMessageComplete(http_parser* p);
  int fail(int status);
  void commitHeader();
  // Collects the request line of the message being parsed (http-parser as Debian builds it is
  // lenient about the version token, e.g. "HTTX/1.1", so the line is checked here too).
  void scanRequestLine(std::string_view data);
  bool requestLineValid() const;

  ParserLimits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  Request request_;
  std::string field_;
  std::string value_;
  bool inValue_ = false;
  std::size_t headerBytes_ = 0;
  int hostHeaders_ = 0;
  bool unknownCoding_ = false;
  bool midRequest_ = false;
  bool inRequestLine_ = true;  // before the LF that ends the current request line
  std::string requestLine_;
  bool headComplete_ = false;
  int errorStatus_ = 0;
};

}  // namespace nioxx::http
