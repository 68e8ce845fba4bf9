// The reserve-descriptor trick for accept on descriptor exhaustion (libuv, muduo, nioxx's reactor
// Acceptor): keep one spare descriptor open; when accept(2) fails with EMFILE/ENFILE, close the
// spare, accept the waiting connection and close it at once (the client sees an orderly close
// instead of hanging in the backlog until its own timeout), then open the spare again.
//
// Process-wide, because the descriptor table is: one spare serves every listening socket of every
// engine (emulated and io_uring). Thread rule: both functions are safe from any thread (a mutex
// serialises the close/accept/reopen window so two sheds cannot take the same slot).
#pragma once

#include <cstddef>

namespace nioxx::descriptor {

// Opens the spare descriptor if it is not open (cheap when it is: one atomic load). Called on
// every accept so the spare exists before the first exhaustion and is taken back after a shed
// whose re-open lost the race for the slot.
void ensureFdReserve() noexcept;

struct ShedResult {
  std::size_t shed = 0;  // connections accepted and closed at once
  bool drained = false;  // the backlog was found empty (accept said EAGAIN once a slot was free)
};

// After accept(2) on the non-blocking listenFd failed with EMFILE or ENFILE (error is that
// errno): sheds up to maxShed connections waiting in listenFd's backlog, using the spare's slot.
// Linux checks for a free descriptor before it looks at the backlog, so the failure does not mean
// a connection was waiting: {0, drained} says none was (and logs nothing). {0, !drained}: the
// spare could not be opened, or another thread took the freed slot first. Logs a rate-limited
// warning when connections were shed or could not be. Leaves errno unspecified.
ShedResult shedOnExhaustion(int listenFd, int error, std::size_t maxShed = 16) noexcept;

}  // namespace nioxx::descriptor
