// Is io_uring usable here? Disabled by sysctl (io_uring_disabled), refused by a container's
// seccomp profile (EPERM) or an old kernel (ENOSYS), or missing an opcode or feature the engine
// needs: each gives a reason, and the caller falls back to the emulated engine (or, when the
// user forced io_uring, stops with that reason).
#include <liburing.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "nioxx/uring/uring_processor.h"

namespace nioxx {
namespace {

std::string errnoText(int e) {
  return std::system_category().message(e) + " (errno " + std::to_string(e) + ")";
}

UringProcessor::Availability run() {
  UringProcessor::Availability a;
  if (const char* v = std::getenv("NIOXX_URING_DISABLE");
      v != nullptr && *v != '\0' && std::string(v) != "0") {
    a.reason = "disabled by NIOXX_URING_DISABLE";
    return a;
  }
  if (std::ifstream f("/proc/sys/kernel/io_uring_disabled"); f) {
    int v = 0;
    if (f >> v && v == 2) {
      a.reason = "disabled by sysctl kernel.io_uring_disabled=2";
      return a;
    }
  }
  io_uring ring{};
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  std::string setup = "single_issuer|defer_taskrun";
  int rc = io_uring_queue_init_params(8, &ring, &p);
  if (rc == -EINVAL) {
    p = {};
    p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    setup = "coop_taskrun";
    rc = io_uring_queue_init_params(8, &ring, &p);
  }
  if (rc == -EINVAL) {
    p = {};
    setup = "plain";
    rc = io_uring_queue_init_params(8, &ring, &p);
  }
  if (rc != 0) {
    a.reason = "io_uring_setup failed: " + errnoText(-rc);
    return a;
  }
  const int ops[] = {IORING_OP_ACCEPT,       IORING_OP_CONNECT,  IORING_OP_RECV, IORING_OP_SEND,
                     IORING_OP_SENDMSG,      IORING_OP_RECVMSG,  IORING_OP_READ, IORING_OP_WRITE,
                     IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD, IORING_OP_NOP,  IORING_OP_SPLICE};
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring); probe != nullptr) {
    for (int op : ops) {
      if (!io_uring_opcode_supported(probe, op)) {
        a.reason = "opcode " + std::to_string(op) + " not supported";
        break;
      }
    }
    io_uring_free_probe(probe);
  } else {
    a.reason = "opcode probe failed";
  }
  if (a.reason.empty() && (p.features & IORING_FEAT_EXT_ARG) == 0) {
    a.reason = "kernel lacks IORING_FEAT_EXT_ARG (wait with timeout)";
  }
  if (a.reason.empty()) {
    // Buffer rings (5.19) also mean multishot accept; multishot receive needs 6.0.
    const std::size_t bytes = 8 * sizeof(io_uring_buf);
    void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem != MAP_FAILED) {
      io_uring_buf_ring_init(static_cast<io_uring_buf_ring*>(mem));
      io_uring_buf_reg reg{};
      reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
      reg.ring_entries = 8;
      reg.bgid = 1;
      rc = io_uring_register_buf_ring(&ring, &reg, 0);
      if (rc != 0) a.reason = "buffer rings unsupported: " + errnoText(-rc);
      ::munmap(mem, bytes);
    }
  }
  io_uring_queue_exit(&ring);
  utsname u{};
  ::uname(&u);
  a.features = "setup=" + setup + " kernel=" + u.release;
  a.available = a.reason.empty();
  return a;
}

}  // namespace

const UringProcessor::Availability& UringProcessor::probe() {
  static const Availability a = run();
  return a;
}

UringProcessor::Availability UringProcessor::probeNow() {
  return run();
}

}  // namespace nioxx
