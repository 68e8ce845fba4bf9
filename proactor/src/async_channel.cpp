#include "nioxx/proactor/spi/async_channel.h"

#include <unistd.h>

#include <cstddef>
#include <new>
#include <system_error>

#include "detail/proactor_core.h"
#include "detail/thread_slots.h"
#include "detail/writability.h"
#include "nioxx/core/error.h"
#include "nioxx/core/sys.h"
#include "nioxx/proactor/async_file.h"
#include "nioxx/proactor/async_result.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"

namespace nioxx {

namespace detail {
std::uint64_t allocateId() noexcept;
}  // namespace detail

AsyncChannel::AsyncChannel(std::shared_ptr<detail::ProactorCore> core, int fd,
                           ChannelKind kind) noexcept
    : fd_(fd), kind_(kind), id_(detail::allocateId()), core_(std::move(core)) {
  const ProactorOptions& o = core_->options();
  lowWater_.store(o.writeBufferLowWatermark, std::memory_order_relaxed);
  highWater_.store(o.writeBufferHighWatermark, std::memory_order_relaxed);
  writeLimit_.store(o.writeBufferLimit, std::memory_order_relaxed);
  detail::liveAdd(detail::LiveKind::channel, 1);
}

AsyncChannel* AsyncChannel::create(std::shared_ptr<detail::ProactorCore> core, int fd,
                                   ChannelKind kind, bool withStrand) {
  static_assert(sizeof(AsyncChannel) % alignof(detail::Strand) == 0);
  void* p = ::operator new(sizeof(AsyncChannel) + (withStrand ? sizeof(detail::Strand) : 0));
  auto* channel = new (p) AsyncChannel(std::move(core), fd, kind);
  if (withStrand) {
    new (channel + 1) detail::Strand(&AsyncChannel::runStrand, channel);
    channel->hasStrand_ = true;
  }
  return channel;
}

void AsyncChannel::destroy() noexcept {
  if (hasStrand_) strand().~Strand();
  this->~AsyncChannel();
  ::operator delete(static_cast<void*>(this));
}

AsyncChannel::~AsyncChannel() {
  delete watch_.load(std::memory_order_acquire);
  detail::liveAdd(detail::LiveKind::channel, -1);
}

void AsyncChannel::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Last reference: no handle and no operation left. The processor closes the descriptor.
  core_->detach(*this);
  destroy();
}

void AsyncChannel::runStrand(detail::DispatchNode* node) noexcept {
  auto* channel = static_cast<AsyncChannel*>(static_cast<detail::Strand*>(node)->owner);
  channel->core_->runStrand(*channel);
}

AsyncSocket IoResult::socket() const {
  return AsyncSocket(channel_);
}
AsyncSocket ScatterResult::socket() const {
  return AsyncSocket(channel_);
}
AsyncSocket ConnectResult::socket() const {
  return AsyncSocket(channel_);
}
AsyncSocket AcceptResult::socket() const {
  return AsyncSocket(accepted_);
}
AsyncServerSocket AcceptResult::server() const {
  return AsyncServerSocket(channel_);
}
AsyncFile FileResult::file() const {
  return AsyncFile(channel_);
}

namespace detail {

void initiate(Operation* op) {
  op->channel()->core().initiate(op);
}
void initiate(ProactorCore& core, Operation* op) {
  core.initiateChannelless(op);
}

ChannelRef adoptAccepted(AsyncChannel& server, int fd, std::error_code& error) noexcept {
  try {
    return server.core().newChannel(fd, ChannelKind::socket, server.acceptedPlacement());
  } catch (const ShutdownError&) {
    error = Error::operation_aborted;
  } catch (const std::system_error& e) {
    error = e.code();
  } catch (const std::bad_alloc&) {
    error = std::make_error_code(std::errc::not_enough_memory);
  } catch (...) {
    error = std::make_error_code(std::errc::io_error);
  }
  sys::close(fd);
  return {};
}

}  // namespace detail
}  // namespace nioxx
