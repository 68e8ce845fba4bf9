// ServerProactor: a Proactor on the chosen engine (the bridge's EmulatedProcessor, or io_uring),
// with the threads a program needs for its dispatch strategy ("post-reactive" also starts
// `threads` Proactor::run() threads, since that is where its handlers run). Used by the
// proactive and coroutine servers, and by programs that want the same engine choice (the demos'
// proactive client, relay and HTTP servers).
//
// Thread rule: construct and shutdown() from one controlling thread, never from a handler.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "nioxx/proactor/buffer_group.h"
#include "nioxx/proactor/proactor.h"

namespace nioxx::server {

class ServerProactor {
 public:
  virtual ~ServerProactor() = default;
  virtual Proactor& proactor() noexcept = 0;
  // The engine actually used: "emulated" or "uring".
  virtual const char* engine() const noexcept = 0;
  // Completes everything in flight (operation_aborted), runs those handlers, joins every thread.
  // Idempotent.
  virtual void shutdown() = 0;
};

// How the emulated processor performs I/O (EmulatedProcessor::Options), for measuring the
// variants the proactor issue asks about.
struct ProcessorTuning {
  std::string ioMode = "inline";  // "inline" (the readiness thread performs the I/O) or
                                  // "worker-pool" (reactor thread -> I/O worker, paper-literal)
  bool speculative = true;        // try the I/O at initiation before waiting for readiness
  // The Asynchronous Operation Processor: "emulated" (bridge/, over the Reactor), "uring" (the
  // kernel performs the I/O; a clear error where io_uring is unavailable) or "auto" (uring where
  // it works, else emulated with one log line).
  std::string engine = "emulated";
  // ProactorOptions::observer (metrics, tracing); must outlive the ServerProactor. Optional.
  OperationObserver* observer = nullptr;
};

// Throws std::invalid_argument naming the accepted values unless ioMode is "inline" or
// "worker-pool" and engine is "emulated", "uring" or "auto".
void validate(const ProcessorTuning& tuning);

// dispatch: "post-reactive", "call-through" or "pool" (throws std::invalid_argument otherwise).
// threads: reactor threads, pool-strategy handler threads, post-reactive run() threads, and
// (worker-pool I/O) I/O workers.
// Throws std::runtime_error (with the kernel's reason) for engine "uring" where io_uring is
// unavailable.
std::unique_ptr<ServerProactor> makeServerProactor(std::size_t threads, std::string_view dispatch,
                                                   const ProcessorTuning& tuning);
// Same, with the default tuning (inline I/O, speculative).
std::unique_ptr<ServerProactor> makeServerProactor(std::size_t threads, std::string_view dispatch);
// A Proactor somebody else owns and runs (ServerConfig::proactor): shutdown() does nothing, the
// owner shuts it down. Engine "emulated".
std::unique_ptr<ServerProactor> borrowServerProactor(Proactor& proactor);

// The servers' read buffers on an engine where the kernel performs the reads (io_uring): there a
// pooled read would take its chunk when issued, so every idle connection would hold one. A
// provided-buffer group lets the kernel pick a buffer only when bytes arrive; an idle connection
// holds none. kReadBuffersPerThread bounds the reads completing per engine thread between two
// loop turns (one more waits for a buffer to come back, losing nothing). The kernel takes the
// buffers in ring order, so over time it touches (makes resident) every buffer's first bytes: the
// group's resident cost is about buffers * size per thread (512 KiB; at 10,000 connections about
// 52 bytes each, measured with 1024 x 2 KiB: 210). A frame longer than one buffer is read on into
// the session's own buffer. Returns no group for the emulated engine unless `wanted` says so
// (ServerConfig::providedBufferReads): its pooled reads already take their chunk only at
// readiness (and its pool grows instead of making reads wait).
inline constexpr std::size_t kReadBufferSize = 1024;
inline constexpr std::size_t kReadBuffersPerThread = 512;
BufferGroup makeReadGroup(ServerProactor& proactor, std::optional<bool> wanted = std::nullopt);

}  // namespace nioxx::server
