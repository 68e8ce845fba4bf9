// BufferPool: chunks handed out as owning ByteBuffers come back when the last copy is gone.
#include "nioxx/core/buffer_pool.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace nioxx {
namespace {

TEST(BufferPoolTest, AcquireGivesAFullChunk) {
  BufferPool pool({.chunkSize = 1000, .maxCached = 4});
  ByteBuffer b = pool.acquire();
  EXPECT_EQ(b.capacity(), 1000u);
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(b.limit(), 1000u);
  EXPECT_EQ(pool.outstanding(), 1u);
  b.put(std::string_view("hello"));
  EXPECT_EQ(b.position(), 5u);
}

TEST(BufferPoolTest, ChunkReturnsWhenTheLastCopyIsGone) {
  BufferPool pool({.chunkSize = 64, .maxCached = 4});
  const std::uint8_t* first;
  {
    ByteBuffer b = pool.acquire();
    first = b.array();
    ByteBuffer copy = b.duplicate();  // shares the chunk
    b = ByteBuffer();
    EXPECT_EQ(pool.outstanding(), 1u);
    EXPECT_EQ(pool.cached(), 0u);
  }
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(pool.cached(), 1u);
  ByteBuffer again = pool.acquire();  // reused, not allocated anew
  EXPECT_EQ(again.array(), first);
  EXPECT_EQ(pool.cached(), 0u);
}

TEST(BufferPoolTest, KeepsAtMostMaxCachedChunks) {
  BufferPool pool({.chunkSize = 64, .maxCached = 2});
  {
    std::vector<ByteBuffer> many;
    for (int i = 0; i < 5; ++i)
      many.push_back(pool.acquire());
    EXPECT_EQ(pool.outstanding(), 5u);
  }
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(pool.cached(), 2u);
}

TEST(BufferPoolTest, BuffersMayOutliveThePool) {
  ByteBuffer survivor;
  {
    BufferPool pool({.chunkSize = 32, .maxCached = 2});
    survivor = pool.acquire();
    survivor.put(std::string_view("still here"));
  }
  survivor.flip();
  EXPECT_EQ(survivor.remaining(), 10u);
  EXPECT_EQ(survivor.get(0), 's');
  survivor = ByteBuffer();  // frees the chunk (ASan checks there is no leak or double free)
}

TEST(BufferPoolTest, AcquireAndReleaseFromManyThreads) {
  BufferPool pool({.chunkSize = 128, .maxCached = 8});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 2000; ++i) {
        ByteBuffer b = pool.acquire();
        b.put(static_cast<std::uint8_t>(t));
        ByteBuffer handedOver = std::move(b);  // dropped below, possibly after another acquire
        if (i % 2 == 0) handedOver = pool.acquire();
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_LE(pool.cached(), 8u);
}

}  // namespace
}  // namespace nioxx
