#include "http/http_date.h"

#include <array>
#include <charconv>

namespace nioxx::http {
namespace {

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool number(std::string_view s, int& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

// Digits written by hand: snprintf cost ~2,700 instructions per response (Last-Modified is
// formatted for every file served), more than the rest of the response head.
std::string formatHttpDate(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::string out = "Sun, 00 Jan 0000 00:00:00 GMT";
  const auto two = [&out](std::size_t at, int v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  out.replace(0, 3, kDays[static_cast<std::size_t>(tm.tm_wday)]);
  two(5, tm.tm_mday);
  out.replace(8, 3, kMonths[static_cast<std::size_t>(tm.tm_mon)]);
  const int year = tm.tm_year + 1900;
  two(12, year / 100 % 100);
  two(14, year % 100);
  two(17, tm.tm_hour);
  two(20, tm.tm_min);
  two(23, tm.tm_sec);
  return out;
}

// Hand-written rather than strptime: strptime depends on the locale and accepts more than the
// fixed format.
std::optional<std::time_t> parseHttpDate(std::string_view s) {
  // 0         1         2
  // 0123456789012345678901234567890
  // Sun, 06 Nov 1994 08:49:37 GMT
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  std::tm tm{};
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) month = i;
  }
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (month < 0 || !number(s.substr(5, 2), day) || !number(s.substr(12, 4), year) ||
      !number(s.substr(17, 2), hour) || !number(s.substr(20, 2), minute) ||
      !number(s.substr(23, 2), second)) {
    return std::nullopt;
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 || year < 1970) {
    return std::nullopt;
  }
  tm.tm_mday = day;
  tm.tm_mon = month;
  tm.tm_year = year - 1900;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return ::timegm(&tm);
}

}  // namespace nioxx::http
