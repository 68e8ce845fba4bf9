// TypedOperation: an Operation with the user's handler and ACT type-erased into it once, at
// initiation (no std::function; memory recycled per thread).
#pragma once

#include <cstddef>
#include <future>
#include <stdexcept>
#include <utility>

#include "nioxx/proactor/async_result.h"
#include "nioxx/proactor/completion_handler.h"
#include "nioxx/proactor/shutdown_error.h"
#include "nioxx/proactor/spi/operation.h"

namespace nioxx::detail {

class ProactorCore;

// Per-thread recycling allocator for operations (small size classes; larger ones use new).
void* allocateOperation(std::size_t size);
void deallocateOperation(void* p, std::size_t size) noexcept;

// Validates and starts an operation of a channel (read_pending, queue_full, closed checks; then
// the processor). Never runs the handler inside this call.
void initiate(Operation* op);
// Starts a channel-less operation (timer, post) on core.
void initiate(ProactorCore& core, Operation* op);
// accept: wraps the accepted descriptor into a channel of the same Proactor. On failure (shut
// down, out of memory, the processor refused it) the descriptor is closed, `error` says why and
// the result is empty.
ChannelRef adoptAccepted(AsyncChannel& server, int fd, std::error_code& error) noexcept;

// Builds a Result from a finished operation, moving the buffers and channel reference out.
template <class Result>
struct ResultBuilder;

template <class Result, class Act, class Handler>
class TypedOperation final : public Operation {
 public:
  TypedOperation(OpKind kind, AsyncChannel* channel, Act&& act, Handler&& handler)
      : Operation(kind, channel, &runNode, &destroyNode, &runMore),
        act_(std::move(act)),
        handler_(std::move(handler)) {
    actType_ = actTypeTagOf<Act>();
  }

  static void* operator new(std::size_t size) { return allocateOperation(size); }
  static void operator delete(void* p, std::size_t size) noexcept { deallocateOperation(p, size); }

 private:
  static void runNode(DispatchNode* node) noexcept {
    auto* self = static_cast<TypedOperation*>(node);
    try {
      Result result = ResultBuilder<Result>::build(*self);
      invokeHandler<Result, Act>(self->handler_, result, self->act_);
    } catch (const ShutdownError&) {
      // The handler initiated during shutdown and was refused: it ends here (see ShutdownError).
    }
    delete self;
  }
  static void destroyNode(Operation* op) noexcept { delete static_cast<TypedOperation*>(op); }
  // One non-final result of a multishot operation: the same handler, the operation goes on.
  static void runMore(Operation* op, MoreResult* more) noexcept {
    auto* self = static_cast<TypedOperation*>(op);
    if constexpr (ResultBuilder<Result>::kMultishot) {
      try {
        Result result = ResultBuilder<Result>::buildMore(*self, *more);
        invokeHandler<Result, Act>(self->handler_, result, self->act_);
      } catch (const ShutdownError&) {
      }
    }
    delete more;
  }

  Act act_;
  Handler handler_;
};

template <class Result, class Act, class H>
Operation* makeOperation(OpKind kind, AsyncChannel* channel, Act act, H&& handler) {
  using Storage = HandlerStorage<Result, Act, H>;
  using Op = TypedOperation<Result, Act, typename Storage::type>;
  return new Op(kind, channel, std::move(act), Storage::make(std::forward<H>(handler)));
}

// The future form: returns the operation and the future of its result.
template <class Result>
std::pair<Operation*, std::future<Result>> makeFutureOperation(OpKind kind, AsyncChannel* channel) {
  std::promise<Result> promise;
  auto future = promise.get_future();
  using Op = TypedOperation<Result, NoAct, std::promise<Result>>;
  return {new Op(kind, channel, NoAct{}, std::move(promise)), std::move(future)};
}

// A new counted reference to the operation's channel (the operation keeps its own).
inline ChannelRef shareChannel(const Operation& op) noexcept {
  AsyncChannel* c = op.channel();
  if (c != nullptr) c->addRef();
  return ChannelRef::adopt(c);
}

template <>
struct ResultBuilder<IoResult> {
  static constexpr bool kMultishot = true;
  static IoResult build(Operation& op) {
    return IoResult(op.id(), op.transferred, op.error, ChannelRef::adopt(op.releaseChannel()),
                    std::move(op.buffer));
  }
  static IoResult buildMore(Operation& op, MoreResult& m) {
    IoResult r(op.id(), m.transferred, m.error, shareChannel(op), std::move(m.buffer));
    r.more_ = true;
    return r;
  }
};
template <>
struct ResultBuilder<ScatterResult> {
  static constexpr bool kMultishot = false;
  static ScatterResult build(Operation& op) {
    return ScatterResult(op.id(), op.transferred, op.error, ChannelRef::adopt(op.releaseChannel()),
                         std::move(op.buffers));
  }
};
template <>
struct ResultBuilder<ConnectResult> {
  static constexpr bool kMultishot = false;
  static ConnectResult build(Operation& op) {
    return ConnectResult(op.id(), op.error, ChannelRef::adopt(op.releaseChannel()));
  }
};
template <>
struct ResultBuilder<AcceptResult> {
  static constexpr bool kMultishot = true;
  static AcceptResult buildMore(Operation& op, MoreResult& m) {
    AcceptResult r = make(op, shareChannel(op), m.acceptedFd, m.error);
    r.more_ = true;
    return r;
  }
  static AcceptResult build(Operation& op) {
    return make(op, ChannelRef::adopt(op.releaseChannel()), op.acceptedFd, op.error);
  }

 private:
  // Takes the accepted descriptor (fd becomes -1) into a channel of the server's Proactor.
  static AcceptResult make(Operation& op, ChannelRef server, int& fd, std::error_code error) {
    ChannelRef accepted;
    if (fd >= 0) accepted = adoptAccepted(*server.get(), std::exchange(fd, -1), error);
    return AcceptResult(op.id(), error, std::move(server), std::move(accepted));
  }
};
template <>
struct ResultBuilder<FileResult> {
  static constexpr bool kMultishot = false;
  static FileResult build(Operation& op) {
    return FileResult(op.id(), op.transferred, op.error, ChannelRef::adopt(op.releaseChannel()),
                      std::move(op.buffer), op.offset);
  }
};
template <>
struct ResultBuilder<TimerResult> {
  static constexpr bool kMultishot = false;
  static TimerResult build(Operation& op) { return TimerResult(op.id(), op.error); }
};

}  // namespace nioxx::detail
