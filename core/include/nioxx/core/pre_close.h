// Two-step close of a socket descriptor (Java NIO's preClose): close(2) semantics now, the number
// later. preClose() points the descriptor number at a process-wide dead socket (dup3 of one end of
// a socket pair whose other end is closed: reads see end of stream, writes EPIPE), which releases
// the connection at once, exactly as close(2) would (FIN, or RST with SO_LINGER 0; a listening
// socket stops listening and frees its port). The number itself stays taken until the owner
// closes it, so no other thread's use of it can reach a connection that reused the number.
//
// Thread rule: any thread. Remove the descriptor from epoll first (the Selector's cancel does).
#pragma once

namespace nioxx::descriptor {

// Falls back to shutdown(SHUT_RDWR) if the dead socket cannot be created (descriptor table full).
void preClose(int fd) noexcept;
// Creates the dead socket now (engines call it at start, so the one descriptor it costs is
// taken up front, not at the first close, when the table may be full).
void ensurePreCloseSocket() noexcept;

}  // namespace nioxx::descriptor
