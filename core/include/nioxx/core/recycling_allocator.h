// RecyclingAllocator: a std::allocator replacement for small blocks that come and go at request
// rate (shared-pointer control blocks, small ByteBuffer::copyOf storage). Freed blocks go to a
// bounded free list of the freeing thread, by size class, and the next allocation of that class
// on that thread reuses one, so a steady request loop does not call malloc (issue 17).
//
// Blocks may be freed on another thread than the one that allocated them (they are plain
// operator new memory); a thread's lists are freed when it exits. Blocks above kMaxRecycled
// bytes or over-aligned types go straight to operator new/delete. A thread keeps at most 64 blocks
// per 16-byte size class and 256 KiB in all. AddressSanitizer builds do not recycle (a reused
// block would hide a use after free).
//
// Thread rule: stateless; every instance is interchangeable and safe from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace nioxx {

namespace detail {
inline constexpr std::size_t kMaxRecycled = 4096;  // bytes; larger blocks are not kept
void* recyclingAllocate(std::size_t bytes);        // throws std::bad_alloc
void recyclingDeallocate(void* p, std::size_t bytes) noexcept;
// False under AddressSanitizer: blocks then go straight back to operator delete.
bool recyclingEnabled() noexcept;
// Bytes the calling thread keeps in its free lists (tests).
std::size_t recycledBytesKept() noexcept;
}  // namespace detail

template <class T>
struct RecyclingAllocator {
  using value_type = T;

  RecyclingAllocator() noexcept = default;
  template <class U>
  RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if constexpr (alignof(T) > alignof(std::max_align_t)) {
      return std::allocator<T>().allocate(n);
    } else {
      if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
      return static_cast<T*>(detail::recyclingAllocate(n * sizeof(T)));
    }
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if constexpr (alignof(T) > alignof(std::max_align_t)) {
      std::allocator<T>().deallocate(p, n);
    } else {
      detail::recyclingDeallocate(p, n * sizeof(T));
    }
  }

  template <class U>
  bool operator==(const RecyclingAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace nioxx
