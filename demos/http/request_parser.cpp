#include "http/request_parser.h"

#include <algorithm>
#include <cctype>
#include <climits>

#include "http/ascii.h"

namespace nioxx::http {
namespace {

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  return iequalsAscii(a, b);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

RequestParser& self(http_parser* p) {
  return *static_cast<RequestParser*>(p->data);
}

}  // namespace

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::onMessageBegin;
  settings_.on_url = &RequestParser::onUrl;
  settings_.on_header_field = &RequestParser::onHeaderField;
  settings_.on_header_value = &RequestParser::onHeaderValue;
  settings_.on_headers_complete = &RequestParser::onHeadersComplete;
  settings_.on_message_complete = &RequestParser::onMessageComplete;
}

RequestParser::Outcome RequestParser::parse(std::string_view data, std::size_t& consumed) {
  consumed = 0;
  if (errorStatus_ != 0) return Outcome::error;
  if (headComplete_) {
    // The previous request is answered: start on the next one.
    headComplete_ = false;
    http_parser_pause(&parser_, 0);
  }
  if (data.empty()) return Outcome::need_more;
  scanRequestLine(data);
  consumed = http_parser_execute(&parser_, &settings_, data.data(), data.size());
  if (headComplete_) return Outcome::request;
  const auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_OK) return Outcome::need_more;
  if (errorStatus_ == 0) {
    // http-parser's own verdicts: an unknown method is not implemented; everything else
    // (syntax, framing, a Content-Length with Transfer-Encoding) is a bad request.
    if (err == HPE_INVALID_METHOD) {
      errorStatus_ = 501;
    } else if (err == HPE_HEADER_OVERFLOW) {
      errorStatus_ = 431;
    } else if (err == HPE_INVALID_TRANSFER_ENCODING) {
      errorStatus_ = 501;
    } else {
      errorStatus_ = 400;
    }
  }
  midRequest_ = false;
  return Outcome::error;
}

void RequestParser::scanRequestLine(std::string_view data) {
  if (!inRequestLine_) return;
  // Empty lines before a request line are ignored (RFC 9112 2.2), as http-parser does.
  if (requestLine_.empty()) {
    const auto start = data.find_first_not_of("\r\n");
    if (start == std::string_view::npos) return;
    data.remove_prefix(start);
  }
  const auto lf = data.find('\n');
  const std::size_t cap = limits_.maxTarget + 64;  // longer lines fail as 414 in onUrl
  const std::size_t take = std::min(lf == std::string_view::npos ? data.size() : lf,
                                    cap > requestLine_.size() ? cap - requestLine_.size() : 0);
  requestLine_.append(data.substr(0, take));
  if (lf != std::string_view::npos) inRequestLine_ = false;
}

// method SP request-target SP HTTP-version, HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 3).
bool RequestParser::requestLineValid() const {
  std::string_view line = requestLine_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp2 <= sp1 + 1) return false;
  if (line.substr(sp1 + 1, sp2 - sp1 - 1).find_first_of(" \t") != std::string_view::npos) {
    return false;
  }
  const std::string_view version = line.substr(sp2 + 1);
  return version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
         std::isdigit(static_cast<unsigned char>(version[5])) && version[6] == '.' &&
         std::isdigit(static_cast<unsigned char>(version[7]));
}

int RequestParser::fail(int status) {
  if (errorStatus_ == 0) errorStatus_ = status;
  // Stops http_parser_execute with a callback error. Not 1 or 2: from on_headers_complete those
  // mean "skip the body" and "upgrade".
  return -1;
}

int RequestParser::onMessageBegin(http_parser* p) {
  RequestParser& s = self(p);
  s.request_ = Request{};
  s.field_.clear();
  s.value_.clear();
  s.inValue_ = false;
  s.headerBytes_ = 0;
  s.hostHeaders_ = 0;
  s.unknownCoding_ = false;
  s.midRequest_ = true;
  return 0;
}

int RequestParser::onUrl(http_parser* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  if (s.request_.target.size() + n > s.limits_.maxTarget) return s.fail(414);
  s.request_.target.append(at, n);
  return 0;
}

int RequestParser::onHeaderField(http_parser* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  if (s.inValue_) s.commitHeader();
  s.headerBytes_ += n;
  if (s.headerBytes_ > s.limits_.maxHeaderBytes) return s.fail(431);
  s.field_.append(at, n);
  return 0;
}

int RequestParser::onHeaderValue(http_parser* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  s.inValue_ = true;
  s.headerBytes_ += n;
  if (s.headerBytes_ > s.limits_.maxHeaderBytes) return s.fail(431);
  s.value_.append(at, n);
  return 0;
}

void RequestParser::commitHeader() {
  const std::string_view field = field_;
  const std::string_view value = trim(value_);
  if (iequals(field, "host")) {
    ++hostHeaders_;
  } else if (iequals(field, "range")) {
    request_.range = value;
  } else if (iequals(field, "if-modified-since")) {
    request_.ifModifiedSince = value;
  } else if (iequals(field, "if-range")) {
    request_.ifRange = value;
  } else if (iequals(field, "transfer-encoding")) {
    // Only chunked is understood (and then refused as a body, 413); any other coding is 501.
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto coding = trim(rest.substr(0, comma));
      if (!coding.empty() && !iequals(coding, "chunked")) unknownCoding_ = true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  field_.clear();
  value_.clear();
  inValue_ = false;
}

int RequestParser::onHeadersComplete(http_parser* p) {
  RequestParser& s = self(p);
  if (s.inValue_ || !s.field_.empty()) s.commitHeader();
  if (!s.inRequestLine_ && s.requestLine_.size() < s.limits_.maxTarget + 64 &&
      !s.requestLineValid()) {
    return s.fail(400);
  }
  s.requestLine_.clear();
  s.inRequestLine_ = true;
  Request& r = s.request_;
  r.method = http_method_str(static_cast<http_method>(p->method));
  r.versionMajor = p->http_major;
  r.versionMinor = p->http_minor;
  r.keepAlive = http_should_keep_alive(p) != 0;
  r.hasBody = (p->flags & F_CHUNKED) != 0 ||
              (p->content_length != ULLONG_MAX && p->content_length > 0) ||
              p->uses_transfer_encoding;
  if (p->http_major != 1) return s.fail(505);
  if (s.unknownCoding_) return s.fail(501);
  // RFC 9112 3.2: exactly one Host in HTTP/1.1 (and at most one in HTTP/1.0).
  if (s.hostHeaders_ > 1 || (p->http_minor >= 1 && s.hostHeaders_ == 0)) return s.fail(400);
  s.midRequest_ = false;
  s.headComplete_ = true;
  // No body is ever read (see the header): stop right after the head; the session answers and
  // closes if there was a body.
  http_parser_pause(p, 1);
  return 0;
}

int RequestParser::onMessageComplete(http_parser*) {
  return 0;
}

}  // namespace nioxx::http
