#include "nioxx/core/recycling_allocator.h"

#include <array>

namespace nioxx::detail {
namespace {

constexpr std::size_t kGranule = alignof(std::max_align_t);
constexpr std::size_t kClasses = kMaxRecycled / kGranule;
constexpr std::size_t kKeepPerClass = 64;       // blocks kept per size class and thread
constexpr std::size_t kKeepBytes = 256 * 1024;  // and bytes kept per thread, all classes

// Under AddressSanitizer every block goes back to operator delete: a recycled block would hide a
// use after free (an operation touching a buffer it no longer owns) from the sanitizer.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRecycle = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kRecycle = false;
#else
constexpr bool kRecycle = true;
#endif
#else
constexpr bool kRecycle = true;
#endif

struct Node {
  Node* next;
};

struct FreeLists {
  std::array<Node*, kClasses> head{};
  std::array<std::size_t, kClasses> count{};
  std::size_t bytes = 0;  // kept, all classes
  ~FreeLists();
};

// Set once the thread's lists are destroyed: frees during later thread_local destructors then go
// straight to operator delete instead of into a dead list.
thread_local bool listsGone = false;
thread_local FreeLists lists;

FreeLists::~FreeLists() {
  listsGone = true;
  for (Node* node : head) {
    while (node != nullptr) {
      Node* next = node->next;
      ::operator delete(node);
      node = next;
    }
  }
}

std::size_t classOf(std::size_t bytes) noexcept {
  return (bytes + kGranule - 1) / kGranule - 1;  // bytes in (0, kMaxRecycled]
}

}  // namespace

bool recyclingEnabled() noexcept {
  return kRecycle;
}

std::size_t recycledBytesKept() noexcept {
  return listsGone ? 0 : lists.bytes;
}

void* recyclingAllocate(std::size_t bytes) {
  if (!kRecycle || bytes == 0 || bytes > kMaxRecycled) return ::operator new(bytes);
  const std::size_t c = classOf(bytes);
  if (Node* node = listsGone ? nullptr : lists.head[c]) {
    lists.head[c] = node->next;
    --lists.count[c];
    lists.bytes -= (c + 1) * kGranule;
    return node;
  }
  // Always rounded up (also once the lists are gone: the block may be freed into another
  // thread's lists), so that any block of the class can serve any request of the class.
  return ::operator new((c + 1) * kGranule);
}

void recyclingDeallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (!kRecycle || bytes == 0 || bytes > kMaxRecycled || listsGone) return ::operator delete(p);
  const std::size_t c = classOf(bytes);
  const std::size_t size = (c + 1) * kGranule;
  if (lists.count[c] >= kKeepPerClass || lists.bytes + size > kKeepBytes) {
    return ::operator delete(p);
  }
  auto* node = static_cast<Node*>(p);
  node->next = lists.head[c];
  lists.head[c] = node;
  ++lists.count[c];
  lists.bytes += size;
}

}  // namespace nioxx::detail
