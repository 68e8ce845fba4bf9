// The nioxx version, for logs and --version output.
#pragma once

#include <string_view>

namespace nioxx {

inline constexpr std::string_view kVersion = "0.1.0";
inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;

}  // namespace nioxx
