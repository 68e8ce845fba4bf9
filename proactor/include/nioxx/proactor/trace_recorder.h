// TraceRecorder: an OperationObserver that records every operation's lifecycle into bounded
// per-thread ring buffers and writes them as Chrome trace-event JSON (chrome://tracing,
// https://ui.perfetto.dev): per operation, its initiation (kind, on the initiating thread), an
// async span from initiation to "completion queued", the engine's waiting/performing steps, the
// handler as a slice on the thread that ran it, and a flow arrow from initiation to handler.
// docs/parts/operations.md shows how to read it.
//
// Memory is bounded: each thread keeps its last `eventsPerThread` events (older ones are
// overwritten and counted as dropped); only operations whose initiation, dispatch and handler
// end all survived are written (the others are counted in otherData). Not installed (the
// default), the Proactor pays one predictable branch per phase.
//
// Thread rule: the observer callbacks from any thread (each thread writes its own ring, created
// on its first event under a mutex); write() once every thread that reports to it has stopped
// (after Proactor::shutdown()), from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "nioxx/proactor/observer.h"

namespace nioxx {

class TraceRecorder final : public OperationObserver {
 public:
  static constexpr std::size_t kDefaultEventsPerThread = 1 << 16;  // 24 bytes each: 1.5 MiB

  explicit TraceRecorder(std::size_t eventsPerThread = kDefaultEventsPerThread);
  ~TraceRecorder() override;

  void onPhase(const Operation& op, OpPhase phase) noexcept override;
  void onHandlerEnd(OperationId id, OpKind kind) noexcept override;

  struct Summary {
    std::size_t operations = 0;  // written
    std::size_t incomplete = 0;  // in flight at the end, or partly overwritten
    std::size_t dropped = 0;     // events overwritten in full rings
  };
  // Writes {"traceEvents": [...], ...}. Returns what was written.
  Summary write(std::ostream& out) const;
  // Same, into a file; throws std::system_error if it cannot be written.
  Summary writeFile(const std::string& path) const;

  struct Event {
    std::uint64_t ns;  // steady clock
    std::uint64_t id;
    OpKind kind;
    std::uint8_t phase;     // OpPhase, or kHandlerEnd
    std::uint8_t outcome;   // dispatched: 0 ok, 1 error, 2 cancelled, 3 timed out
    std::uint16_t actType;  // initiated: Operation::actTypeTag()
  };
  static constexpr std::uint8_t kHandlerEnd = 5;

  struct Ring;

 private:
  Ring& ring() noexcept;
  void record(std::uint64_t id, OpKind kind, std::uint8_t phase, std::uint8_t outcome,
              std::uint16_t actType = 0) noexcept;

  const std::size_t capacity_;
  const std::uint64_t serial_;  // tells this recorder's thread-local cache from another's
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Ring>> rings_;
};

}  // namespace nioxx
