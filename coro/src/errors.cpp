#include <string>
#include <system_error>

#include "nioxx/coro/operations.h"

namespace nioxx::coro::detail {

void throwFailed(const std::error_code& error, const char* what) {
  throw std::system_error(error, std::string("nioxx::coro::") + what + " failed");
}

}  // namespace nioxx::coro::detail
