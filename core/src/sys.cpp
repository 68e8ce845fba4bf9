#include "nioxx/core/sys.h"

namespace nioxx::sys {

namespace detail {
Os* gOs = nullptr;
}  // namespace detail

void install(Os* os) noexcept {
  detail::gOs = os;
}

}  // namespace nioxx::sys
