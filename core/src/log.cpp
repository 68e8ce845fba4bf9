#include "nioxx/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

namespace nioxx::log {
namespace {

constexpr const char* kEnvVar = "NIOXX_LOG_LEVEL";
constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e [%n] %^%l%$ [tid %t] %v";

struct Registry {
  std::mutex mutex;
  std::shared_ptr<spdlog::sinks::sink> sink =
      std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;
  std::optional<spdlog::level::level_enum> level;  // unset until init() or the first get()
};

Registry& registry() {
  static Registry* instance = new Registry;  // never destroyed: loggers may log during exit
  return *instance;
}

std::optional<spdlog::level::level_enum> tryParse(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  using L = spdlog::level::level_enum;
  if (lower == "trace") return L::trace;
  if (lower == "debug") return L::debug;
  if (lower == "info") return L::info;
  if (lower == "warn" || lower == "warning") return L::warn;
  if (lower == "error" || lower == "err") return L::err;
  if (lower == "critical") return L::critical;
  if (lower == "off") return L::off;
  return std::nullopt;
}

std::string_view environmentLevel() {
  const char* value = std::getenv(kEnvVar);
  return value == nullptr ? std::string_view{} : std::string_view(value);
}

}  // namespace

spdlog::level::level_enum parseLevel(std::string_view level) {
  if (auto parsed = tryParse(level)) return *parsed;
  throw std::invalid_argument("unknown log level '" + std::string(level) +
                              "': use one of trace, debug, info, warn, error, critical, off");
}

void init(std::string_view level) {
  spdlog::level::level_enum parsed = spdlog::level::info;
  if (!level.empty()) {
    parsed = parseLevel(level);
  } else if (const auto env = environmentLevel(); !env.empty()) {
    try {
      parsed = parseLevel(env);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(kEnvVar) + ": " + e.what());
    }
  }
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.level = parsed;
  for (auto& [name, logger] : r.loggers)
    logger->set_level(parsed);
}

std::shared_ptr<spdlog::logger> get(std::string_view module) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (auto it = r.loggers.find(module); it != r.loggers.end()) return it->second;
  bool badEnvironment = false;
  if (!r.level) {
    const auto env = environmentLevel();
    const auto parsed = env.empty() ? std::optional(spdlog::level::info) : tryParse(env);
    badEnvironment = !parsed;
    r.level = parsed.value_or(spdlog::level::info);
  }
  auto logger = std::make_shared<spdlog::logger>(std::string(module), r.sink);
  logger->set_pattern(kPattern);
  logger->set_level(*r.level);
  logger->flush_on(spdlog::level::warn);
  r.loggers.emplace(std::string(module), logger);
  if (badEnvironment) {
    logger->warn(
        "{}='{}' is not a log level (trace, debug, info, warn, error, critical, off); "
        "using info",
        kEnvVar, environmentLevel());
  }
  return logger;
}

spdlog::level::level_enum level() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return r.level.value_or(spdlog::level::info);
}

}  // namespace nioxx::log
