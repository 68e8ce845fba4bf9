// Releasing a connection at close() while its descriptor number stays reserved until detach():
// the number is pointed at a dead socket (dup3), so the connection's file is closed (the peer
// sees the close, a listening port is freed) and no later open() can reuse the number while
// operations or handles still name it.
#pragma once

namespace nioxx::uring_detail {

void ensurePreCloseSocket() noexcept;  // makes the dead socket (before descriptors run out)
void preClose(int fd) noexcept;

}  // namespace nioxx::uring_detail
