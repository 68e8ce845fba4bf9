// HTTP dates (RFC 9110 5.6.7): the IMF-fixdate the server sends in Date and Last-Modified, and
// the parser for If-Modified-Since / If-Range (IMF-fixdate only; the obsolete RFC 850 and asctime
// forms are not accepted, so such a condition is ignored and the full file is sent, which is
// always a correct answer).
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace nioxx::http {

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::string formatHttpDate(std::time_t t);
std::optional<std::time_t> parseHttpDate(std::string_view text);

}  // namespace nioxx::http
