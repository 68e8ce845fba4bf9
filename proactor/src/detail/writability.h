// Writability notifications (AsyncSocket::onWritabilityChanged): a channel's write buffer turns
// unwritable above its high water mark and writable again at or below its low one. Transitions
// are counted (AsyncChannel::writabilityFlips_, odd = unwritable); each one queues a node on the
// channel's completion path, and the node reports every transition not reported yet, in order.
// So a node that is dropped or overtaken loses nothing: the next one reports its transition.
#pragma once

#include <cstdint>
#include <functional>

#include "nioxx/proactor/spi/async_channel.h"

namespace nioxx {
class AsyncSocket;
}

namespace nioxx::detail {

struct WritabilityWatch {
  std::function<void(AsyncSocket&, bool)> handler;
  std::uint64_t delivered;  // transitions reported so far (channel path only)
};

// One transition to report; runs like a completion of the channel (its strand or its thread).
struct WritabilityNode final : DispatchNode {
  WritabilityNode(AsyncChannel& channel, std::uint64_t flip) noexcept;
  static void run(DispatchNode* node) noexcept;
  ChannelRef channel;  // keeps the channel alive until the node ran
  std::uint64_t flip;  // report transitions up to this one
};

}  // namespace nioxx::detail
