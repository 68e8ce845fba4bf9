// transmit_file on io_uring (ring_transmit.cpp): the steps of one transmission, for issue() and
// onResult() in ring_completions.cpp. Ring thread only.
#pragma once

#include <liburing.h>

#include "nioxx/proactor/spi/operation.h"

namespace nioxx::uring_detail {

// Prepares the transmission's next splice into e. False: nothing to issue; the operation is done
// (all sent, count 0) or failed (op.error set).
bool prepTransmit(Operation& op, int socketFd, io_uring_sqe* e) noexcept;
// The splice came back with res (>= 0 or a negative errno other than EAGAIN/ECANCELED). True:
// issue the next step; false: the operation is done (op.error set on failure).
bool onTransmitResult(Operation& op, int res) noexcept;
// Releases the transmission's pipe (kept for the thread's next one if it is empty). Called when
// the operation completes; the kernel holds none of its requests any more.
void releaseTransmit(Operation& op) noexcept;

}  // namespace nioxx::uring_detail
