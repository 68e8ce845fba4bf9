// The non-blocking system calls behind each operation kind: the "perform" step of the emulated
// Asynchronous Operation Processor (Asio's reactive_socket_*_op::do_perform).
#pragma once

#include "nioxx/proactor/spi/operation.h"

namespace nioxx::bridge_detail {

// drained = done, and the read was short: the socket held no more input at that moment, so a
// read initiated right after would most likely just return EAGAIN.
// nobuffer = again, because the read's provided-buffer group had none free on this thread.
enum class Perform { done, again, drained, nobuffer };

// Performs op on a non-blocking socket until it is done (result filled: transferred/error) or
// would block (again; partial progress kept in the op). Loops on EINTR.
Perform performSocketOp(int fd, Operation& op) noexcept;

// Performs a file op with pread/pwrite (blocking; on a worker thread). Always done.
void performFileOp(int fd, Operation& op) noexcept;

}  // namespace nioxx::bridge_detail
