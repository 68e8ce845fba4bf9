// RecyclingAllocator: freed small blocks are reused by the same thread, by size class, and a
// block of a class can hold any request of that class.
#include "nioxx/core/recycling_allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "nioxx/core/byte_buffer.h"

namespace nioxx {
namespace {

TEST(RecyclingAllocatorTest, SameThreadReusesAFreedBlockOfTheSameClass) {
  if (!detail::recyclingEnabled())
    GTEST_SKIP() << "AddressSanitizer build: blocks are not recycled";
  RecyclingAllocator<std::uint8_t> alloc;
  std::uint8_t* a = alloc.allocate(40);
  alloc.deallocate(a, 40);
  std::uint8_t* b = alloc.allocate(33);  // the same 48-byte class
  EXPECT_EQ(a, b);
  alloc.deallocate(b, 33);
  std::uint8_t* big = alloc.allocate(2000);  // another class: not the freed block
  EXPECT_NE(big, a);
  alloc.deallocate(big, 2000);
}

TEST(RecyclingAllocatorTest, AThreadKeepsABoundedNumberOfBytes) {
  if (!detail::recyclingEnabled())
    GTEST_SKIP() << "AddressSanitizer build: blocks are not recycled";
  // On a fresh thread: 64 blocks of each of the largest classes are far more than the 256 KiB a
  // thread keeps; the rest goes back to operator delete, and a reallocation empties the lists.
  std::thread([] {
    RecyclingAllocator<std::uint8_t> alloc;
    std::vector<std::pair<std::uint8_t*, std::size_t>> blocks;
    for (std::size_t size = 2048; size <= detail::kMaxRecycled; size += 512) {
      for (int i = 0; i < 64; ++i)
        blocks.emplace_back(alloc.allocate(size), size);
    }
    EXPECT_EQ(detail::recycledBytesKept(), 0u);
    for (auto [p, size] : blocks)
      alloc.deallocate(p, size);
    EXPECT_GT(detail::recycledBytesKept(), 200u * 1024u);
    EXPECT_LE(detail::recycledBytesKept(), 256u * 1024u);
    for (auto& [p, size] : blocks)
      p = alloc.allocate(size);
    EXPECT_EQ(detail::recycledBytesKept(), 0u);
    for (auto [p, size] : blocks)
      alloc.deallocate(p, size);
  }).join();
}

TEST(RecyclingAllocatorTest, ARecycledBlockHoldsTheLargestRequestOfItsClass) {
  RecyclingAllocator<std::uint8_t> alloc;
  // Freed with the smallest size of the 64-byte class, reused for the largest one: the whole
  // rounded size must be writable (ASan would flag an overflow).
  std::uint8_t* a = alloc.allocate(49);
  alloc.deallocate(a, 49);
  std::uint8_t* b = alloc.allocate(64);
  std::memset(b, 0xab, 64);
  alloc.deallocate(b, 64);
}

TEST(RecyclingAllocatorTest, LargeAndCrossThreadBlocksAreValid) {
  RecyclingAllocator<std::uint8_t> alloc;
  std::uint8_t* large = alloc.allocate(detail::kMaxRecycled + 1);
  std::memset(large, 1, detail::kMaxRecycled + 1);
  alloc.deallocate(large, detail::kMaxRecycled + 1);
  std::vector<std::uint8_t*> blocks;
  for (int i = 0; i < 200; ++i)
    blocks.push_back(alloc.allocate(static_cast<std::size_t>(1 + i * 17 % 4096)));
  std::thread other([&] {  // freed on another thread, which then exits (its lists are freed)
    for (int i = 0; i < 200; ++i)
      alloc.deallocate(blocks[static_cast<std::size_t>(i)],
                       static_cast<std::size_t>(1 + i * 17 % 4096));
  });
  other.join();
}

TEST(RecyclingAllocatorTest, CopyOfBuffersSurviveRecycling) {
  std::vector<ByteBuffer> kept;
  for (int round = 0; round < 100; ++round) {
    ByteBuffer dropped = ByteBuffer::copyOf(std::string_view("transient reply"));
    kept.push_back(ByteBuffer::copyOf(std::string("reply ") + std::to_string(round)));
  }
  for (int round = 0; round < 100; ++round)
    EXPECT_EQ(kept[static_cast<std::size_t>(round)].remainingText(),
              std::string("reply ") + std::to_string(round));
}

}  // namespace
}  // namespace nioxx
