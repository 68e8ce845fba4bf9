#include "nioxx/core/recycling_allocator.h"

#include <array>

namespace nioxx::detail {
namespace {

constexpr std::size_t kGranule = alignof(std::max_align_t);
constexpr std::size_t kClasses = kMaxRecycled / kGranule;
constexpr std::size_t kKeepPerClass = 64;  // blocks kept per size class and thread

struct Node {
  Node* next;
};

struct FreeLists {
  std::array<Node*, kClasses> head{};
  std::array<std::size_t, kClasses> count{};
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

void* recyclingAllocate(std::size_t bytes) {
  if (bytes == 0 || bytes > kMaxRecycled) return ::operator new(bytes);
  const std::size_t c = classOf(bytes);
  if (Node* node = listsGone ? nullptr : lists.head[c]) {
    lists.head[c] = node->next;
    --lists.count[c];
    return node;
  }
  // Always rounded up (also once the lists are gone: the block may be freed into another
  // thread's lists), so that any block of the class can serve any request of the class.
  return ::operator new((c + 1) * kGranule);
}

void recyclingDeallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes == 0 || bytes > kMaxRecycled || listsGone) return ::operator delete(p);
  const std::size_t c = classOf(bytes);
  if (lists.count[c] >= kKeepPerClass) return ::operator delete(p);
  auto* node = static_cast<Node*>(p);
  node->next = lists.head[c];
  lists.head[c] = node;
  ++lists.count[c];
}

}  // namespace nioxx::detail
