// "No handler runs inside an API call": the suite brackets every call it makes into the
// Proactor's API (initiations, cancel, close, cancelTimer, post, stop, restart) with an ApiScope,
// and every handler checks insideApiCall() is false on its thread. A handler run inline by the
// call that started, cancelled or closed its operation is a re-entrancy trap for users (locks
// held by the caller, half-updated state), whatever the dispatch strategy.
// run(), runOnce() and shutdown() are not bracketed: handlers are meant to run inside them.
#pragma once

#include <utility>

namespace nioxx::conformance {

inline thread_local int tApiDepth = 0;

struct ApiScope {
  ApiScope() noexcept { ++tApiDepth; }
  ~ApiScope() { --tApiDepth; }
  ApiScope(const ApiScope&) = delete;
  ApiScope& operator=(const ApiScope&) = delete;
};

inline bool insideApiCall() noexcept {
  return tApiDepth != 0;
}

// api([&] { socket.read(...); }): the call, bracketed.
template <class Fn>
decltype(auto) api(Fn&& fn) {
  ApiScope scope;
  return std::forward<Fn>(fn)();
}

}  // namespace nioxx::conformance
