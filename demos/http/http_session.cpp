#include "http/http_session.h"

namespace nioxx::http {

HttpSession::HttpSession(const DocumentRoot& root, SessionLimits limits)
    : root_(root), limits_(limits), parser_(limits.parser) {}

void HttpSession::feed(std::string_view bytes) {
  if (closing_) return;  // after a close decision input is ignored
  if (pending_.empty()) {
    // Common case: parse straight from the read buffer, keep only a pipelined remainder.
    std::string_view rest = bytes;
    while (!rest.empty() && !closing_ && responses_.size() < limits_.maxPipelined) {
      std::size_t used = 0;
      const auto outcome = parser_.parse(rest, used);
      rest.remove_prefix(used);
      if (outcome == RequestParser::Outcome::request) {
        ++requests_;
        queue(respond(parser_.request(), root_));
      } else if (outcome == RequestParser::Outcome::error) {
        queue(errorResponse(parser_.errorStatus(), true));
      } else if (used == 0) {
        break;
      }
    }
    if (!closing_) pending_.assign(rest);
    return;
  }
  pending_.append(bytes);
  parseBuffered();
}

void HttpSession::parseBuffered() {
  std::size_t offset = 0;
  while (!closing_ && responses_.size() < limits_.maxPipelined) {
    std::size_t used = 0;
    const auto outcome = parser_.parse(std::string_view(pending_).substr(offset), used);
    offset += used;
    if (outcome == RequestParser::Outcome::request) {
      ++requests_;
      queue(respond(parser_.request(), root_));
    } else if (outcome == RequestParser::Outcome::error) {
      queue(errorResponse(parser_.errorStatus(), true));
    } else if (used == 0 || offset == pending_.size()) {
      break;
    }
  }
  pending_.erase(0, offset);
  if (closing_) pending_.clear();
}

void HttpSession::queue(Response r) {
  if (r.close) closing_ = true;
  responses_.push_back(std::move(r));
}

void HttpSession::pop() {
  responses_.pop_front();
  if (!pending_.empty() || parser_.midRequest()) parseBuffered();
}

void HttpSession::endOfInput() {
  closing_ = true;
  pending_.clear();
}

bool HttpSession::headerTimeout() {
  if (closing_) return false;
  if (!midRequest()) return false;
  queue(errorResponse(408, true));
  pending_.clear();
  return true;
}

}  // namespace nioxx::http
