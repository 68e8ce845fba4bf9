#include "stress_config.h"

#include <cstdlib>
#include <string>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NIOXX_CONFORMANCE_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NIOXX_CONFORMANCE_SANITIZER 1
#endif
#endif

namespace nioxx::conformance {
namespace {

bool readNumber(const char* name, std::uint64_t& out) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return false;
  out = std::stoull(text);
  return true;
}

}  // namespace

bool underSanitizer() noexcept {
#ifdef NIOXX_CONFORMANCE_SANITIZER
  return true;
#else
  return false;
#endif
}

StressConfig stressConfigFromEnvironment() {
  StressConfig c;
#ifdef NDEBUG
  c.seeds = underSanitizer() ? 100 : 1000;
#else
  c.seeds = underSanitizer() ? 100 : 200;
#endif
  std::uint64_t n = 0;
  if (readNumber("NIOXX_STRESS_SEEDS", n)) c.seeds = n;
  if (readNumber("NIOXX_STRESS_FIRST_SEED", n)) c.firstSeed = n;
  if (readNumber("NIOXX_STRESS_MAX_FAILURES", n)) c.maxFailures = static_cast<std::size_t>(n);
  if (readNumber("NIOXX_STRESS_SEED", n)) {
    c.firstSeed = n;
    c.seeds = 1;
  }
  return c;
}

}  // namespace nioxx::conformance
