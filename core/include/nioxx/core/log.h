// Logging on spdlog: one logger per module ("core", "reactor", "proactor", "bridge", "hello", ...)
// sharing one stderr sink.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

namespace nioxx::log {

// Sets every nioxx logger's level: level ("trace", "debug", "info", "warn", "error", "critical",
// "off"); if empty, the NIOXX_LOG_LEVEL environment variable; otherwise "info".
// Throws std::invalid_argument naming the accepted levels for an unknown level.
void init(std::string_view level = {});

// The logger of a module, created on first use with the current level.
std::shared_ptr<spdlog::logger> get(std::string_view module);

}  // namespace nioxx::log
