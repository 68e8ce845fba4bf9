// Operation: one Asynchronous Operation of the Proactor pattern (paper 6.2), as seen by an
// Asynchronous Operation Processor. It carries its identity, its request (buffers, timeout,
// address, offset), its result (bytes, error) and one atomic state that makes exactly one final
// outcome possible, whoever races to it (I/O, cancel, close, timeout, shutdown).
//
// Users never touch Operation (observers read it): AsyncSocket/AsyncFile/Proactor create it (with
// the user's handler and ACT type-erased into it, once) and hand it to the processor. Engines
// (bridge/EmulatedProcessor, a native io_uring engine) read the request, fill the result, resolve
// the state and pass the operation to CompletionSink::complete(). Part of the engine SPI.
//
// Thread rule: an operation belongs to one thread at a time (initiator -> processor ->
// dispatcher); only state() is safe to read concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>
#include <vector>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/inet_socket_address.h"

namespace nioxx {

class AsyncChannel;
class BufferPool;
class Operation;
class ProvidedBuffers;

// Identifies one initiated operation (returned by the initiating call, in every result).
using OperationId = std::uint64_t;

// What the operation asks the processor to do.
enum class OpKind : std::uint8_t {
  read,      // read into buffer (whole = readExactly)
  write,     // write from buffer (whole = writeAll)
  readv,     // scatter read into buffers
  writev,    // gather write from buffers
  connect,   // connect to address
  accept,    // accept one connection; result in acceptedFd
  read_at,   // file read at offset (performed on a worker thread)
  write_at,  // file write at offset (performed on a worker thread)
  timer,     // fires after timeout (Proactor::scheduleTimer)
  post,      // completes at once (Proactor::post), never inside the posting call
  // send `count` bytes of the file `fileFd` from `offset` on a socket (the paper's TransmitFile;
  // a write: queued, ordered and limited with the socket's other writes; whole, as writeAll)
  transmit_file,
};

// The one atomic state. pending -> performing -> pending is the "would block, wait again" loop;
// every final state is reached exactly once through tryTransition().
enum class OpState : std::uint8_t { pending, performing, completed, cancelled, timed_out };

// Lifecycle phases reported to an OperationObserver (issue 4: call-chain tracing later).
enum class OpPhase : std::uint8_t { initiated, waiting, performing, completed, dispatched };

const char* toString(OpKind kind) noexcept;
const char* toString(OpPhase phase) noexcept;

// A cheap optional hook: when ProactorOptions::observer is null (the default) each phase costs one
// predictable branch. onPhase may be called from any thread, concurrently; it must not block.
class OperationObserver {
 public:
  virtual ~OperationObserver() = default;
  virtual void onPhase(const Operation& op, OpPhase phase) noexcept = 0;
  // After the handler of a dispatched operation returned (the operation may be freed by then:
  // only its id and kind are passed). Same thread as its dispatched phase. Tracing: handler end.
  virtual void onHandlerEnd(std::uint64_t id, OpKind kind) noexcept {
    (void)id;
    (void)kind;
  }

  // The calls this observer wants: phaseBit(phase) for onPhase, kHandlerEnd for onHandlerEnd.
  // Read once, when the Proactor is created; a call not wanted is not made (a counter that needs
  // two phases per operation should not pay for five virtual calls).
  static constexpr unsigned phaseBit(OpPhase phase) noexcept { return 1u << unsigned(phase); }
  static constexpr unsigned kHandlerEnd = 1u << 5;
  static constexpr unsigned kEverything = 0x3fu;
  virtual unsigned wanted() const noexcept { return kEverything; }
};

namespace detail {
// ACT type names for observers (tracing): a process-wide table of at most kMaxActTypes names,
// one entry per ACT type used with makeOperation, registered the first time one is made; tag 0
// is "unknown" (the table is full).
inline constexpr std::uint16_t kMaxActTypes = 4096;
std::uint16_t registerActType(std::string_view name) noexcept;
const char* actTypeName(std::uint16_t tag) noexcept;
template <class T>
constexpr std::string_view typeNameOf() noexcept {
  constexpr std::string_view p = __PRETTY_FUNCTION__;  // "... [with T = NAME; ...]" (GCC/Clang)
  constexpr auto begin = p.find("T = ") + 4;
  constexpr auto end = p.find_first_of(";]", begin);
  return p.substr(begin, end - begin);
}
// Per operation made: the function-local static's guard (one predictable branch). (An inline
// variable template read without a guard was seen uninitialised (0) in an ASan build.)
template <class Act>
std::uint16_t actTypeTagOf() noexcept {
  static const std::uint16_t tag = registerActType(typeNameOf<Act>());
  return tag;
}
}  // namespace detail

namespace detail {
class ProactorCore;
// A node in the dispatcher's intrusive queues: an Operation, one non-final result of a multishot
// operation, or a channel's strand.
struct DispatchNode {
  using RunFn = void (*)(DispatchNode*) noexcept;
  DispatchNode(RunFn fn, bool isOperation) noexcept : run(fn), isOperation(isOperation) {}
  DispatchNode* next = nullptr;
  RunFn run;  // runs the handler (operations, results) or drains the FIFO (strands)
  bool isOperation;
};
struct MoreResult;
}  // namespace detail

class Operation : public detail::DispatchNode {
  // Declared first, so they fill DispatchNode's tail padding (7 bytes after isOperation) instead
  // of padding of their own: an operation is what a waiting read costs (issue 12: at most 1 KiB
  // per idle connection), and 8 bytes less here is what brings the common read to 256 bytes.
  OpKind kind_;
  std::atomic<OpState> state_{OpState::pending};
  bool holdsSlot_ = false;  // owns the channel's read slot / a write-queue place

 protected:
  std::uint16_t actType_ = 0;  // set by TypedOperation

 public:
  bool whole = false;  // readExactly/writeAll: complete only when all is done
  // accept/read: one result per connection / per arrival, each reported with
  // CompletionSink::completeMore(); the operation ends (its final completion) only on an error,
  // end of stream, cancel or close.
  bool multishot = false;

  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

  std::uint64_t id() const noexcept { return id_; }
  OpKind kind() const noexcept { return kind_; }
  // The ACT's type, for observers: detail::actTypeName(actTypeTag()).
  std::uint16_t actTypeTag() const noexcept { return actType_; }
  // The channel the operation belongs to; null for timers and posts.
  AsyncChannel* channel() const noexcept { return channel_; }

  OpState state() const noexcept { return state_.load(std::memory_order_acquire); }
  // Atomically moves from `from` to `to`; false (and no change) if the state was not `from`.
  bool tryTransition(OpState from, OpState to) noexcept {
    return state_.compare_exchange_strong(from, to, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }
  bool isFinal() const noexcept { return state() >= OpState::completed; }

  // Resolves a pending (or performing) operation as cancelled/timed out with the matching error.
  // False if it already reached a final state (the other outcome won the race).
  bool tryAbort(OpState finalState) noexcept;

  // ---- request (set at initiation; read by the processor) ----
  ByteBuffer buffer;  // read/write/read_at/write_at
  union {
    BufferPool* pool = nullptr;  // read: take `buffer` from here when data arrives
    // transmit_file: bytes to send from offset (kToEndOfFile: up to the end of the file); the
    // bytes sent so far are `transferred`. Shares its place with `pool` (a transmission is a
    // write, pools are for reads: the two never meet), so no operation grows for it.
    std::uint64_t count;
  };
  // read: take a buffer of this group (the slab of the channel's placement) when data arrives
  // and hand it over with ProvidedBuffers::lend(); none free: wait for one to come back.
  ProvidedBuffers* group = nullptr;
  std::vector<ByteBuffer> buffers;  // readv/writev
  // transmit_file: the file, a duplicate the operation owns (closed with it), so closing the
  // AsyncFile while the transmission waits is harmless.
  int fileFd = -1;
  // Result of an accept: the new connection (owned by the op until dispatched). Here, beside
  // fileFd, so the two share one word.
  int acceptedFd = -1;
  std::chrono::nanoseconds timeout{0};  // 0 = no timeout; for timers: the delay
  std::int64_t offset = 0;              // read_at/write_at/transmit_file
  static constexpr std::uint64_t kToEndOfFile = UINT64_MAX;
  // connect target: on the heap, as only connects need it (sockaddr_storage would add 132 bytes
  // to every operation, and a read in flight is what an idle connection costs, issue 7)
  std::unique_ptr<InetSocketAddress> address;

  // ---- result (filled by the processor before completing) ----
  std::size_t transferred = 0;
  std::error_code error;

  // ---- processor scratch: free for the processor while the op is in its hands ----
  Operation* next = nullptr;
  // One word, as a pointer or a number: an engine uses one of the two views per operation (the
  // emulated engine a deadline; the io_uring engine a transmission's state, or a multishot
  // read's restarted idle deadline), never both.
  union {
    void* scratch = nullptr;
    std::uint64_t scratchTag;
  };

  // Hands over the channel reference the operation holds (used when building the result).
  AsyncChannel* releaseChannel() noexcept {
    AsyncChannel* c = channel_;
    channel_ = nullptr;
    return c;
  }

 protected:
  using DestroyFn = void (*)(Operation*) noexcept;
  using MoreFn = void (*)(Operation*, detail::MoreResult*) noexcept;
  Operation(OpKind kind, AsyncChannel* channel, RunFn run, DestroyFn destroy, MoreFn more) noexcept;
  ~Operation();

 public:
  // Frees an operation that was never handed to the processor, without running its handler
  // (initiation refused with an exception).
  void destroyUnstarted() noexcept { destroy_(this); }

 private:
  friend class detail::ProactorCore;
  friend struct detail::MoreResult;
  DestroyFn destroy_;
  MoreFn more_;
  std::size_t accounted_ = 0;  // write bytes counted in the channel's pendingWriteBytes
  std::uint64_t id_;
  AsyncChannel* channel_;  // counted reference, released by ~Operation unless handed over
};

namespace detail {
// One non-final result of a multishot operation: what the engine put in the operation's result
// fields when it called completeMore(), moved out so the operation can go on. Dispatched like an
// operation (same strand, same order); the operation outlives it because its final completion is
// queued behind it.
struct MoreResult final : DispatchNode {
  explicit MoreResult(Operation& o) noexcept;
  ~MoreResult();  // closes an accepted descriptor nobody took
  MoreResult(const MoreResult&) = delete;
  MoreResult& operator=(const MoreResult&) = delete;
  Operation* op;
  std::size_t transferred;
  std::error_code error;
  ByteBuffer buffer;
  int acceptedFd;
  static void* operator new(std::size_t size);
  static void operator delete(void* p, std::size_t size) noexcept;
};
}  // namespace detail

}  // namespace nioxx
