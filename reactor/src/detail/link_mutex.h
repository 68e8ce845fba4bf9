// The process-wide mutex guarding the links between channels and keys (SelectableChannel::keys_
// and SelectionKey::channel_). Taken only when registering, closing a channel or freeing a key,
// never on the select/dispatch path. Lock order: link mutex before a Selector's mutex_.
#pragma once

#include <mutex>

namespace nioxx::detail {

std::mutex& linkMutex() noexcept;

}  // namespace nioxx::detail
