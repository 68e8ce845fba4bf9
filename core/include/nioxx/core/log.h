// Logging on spdlog: one logger per module ("core", "reactor", "proactor", "bridge", "hello", ...)
// sharing one stderr sink.
//
// Thread rule: every function is safe from any thread; the loggers themselves are thread-safe.
// The loggers are nioxx's own (not in spdlog's registry), so they never clash with an
// application's logger names.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

namespace nioxx::log {

// Sets every nioxx logger's level: level ("trace", "debug", "info", "warn", "error", "critical",
// "off"); if empty, the NIOXX_LOG_LEVEL environment variable; otherwise "info".
// Throws std::invalid_argument naming the accepted levels for an unknown level.
void init(std::string_view level = {});

// The logger of a module, created on first use with the current level. Before any init(), the
// level comes from NIOXX_LOG_LEVEL (an invalid value there falls back to "info" with a warning,
// since get() does not throw for a bad environment).
std::shared_ptr<spdlog::logger> get(std::string_view module);

// Parses a level name (case-insensitive; "warning" and "err" are accepted aliases).
// Throws std::invalid_argument naming the accepted levels.
spdlog::level::level_enum parseLevel(std::string_view level);

// The level init() set (or the default get() uses).
spdlog::level::level_enum level();

}  // namespace nioxx::log
