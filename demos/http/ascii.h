// ASCII case-insensitive comparison for header names, tokens and file extensions: HTTP's are
// ASCII by definition, and strncasecmp goes through the locale (it showed up in profiles).
#pragma once

#include <string_view>

namespace nioxx::http {

constexpr char asciiLower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool iequalsAscii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

constexpr bool istartsWithAscii(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequalsAscii(s.substr(0, prefix.size()), prefix);
}

static_assert(iequalsAscii("Content-Length", "content-length") && !iequalsAscii("a", "b"));

}  // namespace nioxx::http
