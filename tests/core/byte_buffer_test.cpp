// ByteBuffer: Java NIO position/limit/mark semantics, exceptions, shared views, zero-copy spans.
#include "nioxx/core/byte_buffer.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace nioxx {
namespace {

std::vector<std::uint8_t> drain(ByteBuffer& b) {
  std::vector<std::uint8_t> out(b.remaining());
  b.get(std::span(out));
  return out;
}

std::vector<std::uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

TEST(ByteBufferTest, AllocateStartsEmptyInFillModeAndZeroed) {
  auto b = ByteBuffer::allocate(8);
  EXPECT_EQ(b.capacity(), 8u);
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(b.limit(), 8u);
  EXPECT_EQ(b.remaining(), 8u);
  EXPECT_TRUE(b.hasRemaining());
  for (std::size_t i = 0; i < 8; ++i)
    EXPECT_EQ(b.get(i), 0u);
}

TEST(ByteBufferTest, DefaultAndZeroCapacityBuffersHaveNothingRemaining) {
  ByteBuffer d;
  auto z = ByteBuffer::allocate(0);
  for (ByteBuffer* b : {&d, &z}) {
    EXPECT_EQ(b->capacity(), 0u);
    EXPECT_FALSE(b->hasRemaining());
    EXPECT_THROW(b->get(), BufferUnderflowException);
    EXPECT_THROW(b->put(std::uint8_t{1}), BufferOverflowException);
    EXPECT_NO_THROW(b->put(std::span<const std::uint8_t>{}));  // empty bulk put is fine
    EXPECT_NO_THROW(b->compact());
    EXPECT_EQ(b->slice().capacity(), 0u);
  }
}

TEST(ByteBufferTest, WrapViewsCallerMemoryWithoutCopying) {
  std::array<std::uint8_t, 4> storage{1, 2, 3, 4};
  auto b = ByteBuffer::wrap(storage);
  EXPECT_EQ(b.array(), storage.data());
  EXPECT_EQ(b.capacity(), 4u);
  EXPECT_EQ(b.limit(), 4u);
  EXPECT_EQ(b.get(), 1u);
  b.put(std::uint8_t{9});
  EXPECT_EQ(storage[1], 9u);
}

TEST(ByteBufferTest, PutFlipGetRoundTrip) {
  auto b = ByteBuffer::allocate(16);
  b.put(std::string_view("hello"));
  EXPECT_EQ(b.position(), 5u);
  b.flip();
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(b.limit(), 5u);
  EXPECT_EQ(drain(b), bytes("hello"));
  EXPECT_FALSE(b.hasRemaining());
}

TEST(ByteBufferTest, RelativeGetPastLimitThrowsUnderflow) {
  auto b = ByteBuffer::allocate(4);
  b.put(std::uint8_t{7}).flip();
  EXPECT_EQ(b.get(), 7u);
  EXPECT_THROW(b.get(), BufferUnderflowException);
  EXPECT_EQ(b.position(), 1u);
}

TEST(ByteBufferTest, RelativePutPastLimitThrowsOverflow) {
  auto b = ByteBuffer::allocate(2);
  b.put(std::uint8_t{1}).put(std::uint8_t{2});
  EXPECT_THROW(b.put(std::uint8_t{3}), BufferOverflowException);
  EXPECT_EQ(b.position(), 2u);
}

TEST(ByteBufferTest, AbsoluteAccessChecksAgainstLimitAndLeavesPosition) {
  auto b = ByteBuffer::allocate(8);
  b.limit(4);
  b.put(3, 42);
  EXPECT_EQ(b.get(3), 42u);
  EXPECT_EQ(b.position(), 0u);
  EXPECT_THROW(b.get(4), BufferIndexException);  // below capacity but not below limit
  EXPECT_THROW(b.put(4, 1), BufferIndexException);
}

TEST(ByteBufferTest, PositionBeyondLimitThrows) {
  auto b = ByteBuffer::allocate(8);
  b.limit(4);
  EXPECT_NO_THROW(b.position(4));
  EXPECT_THROW(b.position(5), BufferIndexException);
  EXPECT_EQ(b.position(), 4u);
}

TEST(ByteBufferTest, LimitBeyondCapacityThrows) {
  auto b = ByteBuffer::allocate(8);
  EXPECT_THROW(b.limit(9), BufferIndexException);
  EXPECT_EQ(b.limit(), 8u);
}

TEST(ByteBufferTest, LimitBelowPositionClampsPosition) {
  auto b = ByteBuffer::allocate(8);
  b.position(6);
  b.limit(3);
  EXPECT_EQ(b.position(), 3u);
  EXPECT_EQ(b.remaining(), 0u);
}

TEST(ByteBufferTest, LimitBelowMarkDiscardsMark) {
  auto b = ByteBuffer::allocate(8);
  b.position(5).mark();
  b.limit(4);
  EXPECT_THROW(b.reset(), InvalidMarkException);
}

TEST(ByteBufferTest, LimitAtOrAboveMarkKeepsMark) {
  auto b = ByteBuffer::allocate(8);
  b.position(3).mark();
  b.position(5);
  b.limit(3);  // position clamps to 3, mark (3) survives
  b.reset();
  EXPECT_EQ(b.position(), 3u);
}

TEST(ByteBufferTest, PositionBelowMarkDiscardsMark) {
  auto b = ByteBuffer::allocate(8);
  b.position(4).mark();
  b.position(2);
  EXPECT_THROW(b.reset(), InvalidMarkException);
}

TEST(ByteBufferTest, MarkResetReturnsToMarkedPosition) {
  auto b = ByteBuffer::allocate(8);
  b.put(std::string_view("abcdef")).flip();
  b.get();
  b.mark();
  b.get();
  b.get();
  b.reset();
  EXPECT_EQ(b.position(), 1u);
  EXPECT_EQ(b.get(), 'b');
  b.reset();  // the mark survives a reset
  EXPECT_EQ(b.position(), 1u);
}

TEST(ByteBufferTest, ResetWithoutMarkThrows) {
  auto b = ByteBuffer::allocate(8);
  EXPECT_THROW(b.reset(), InvalidMarkException);
}

TEST(ByteBufferTest, FlipClearRewindCompactDiscardMark) {
  auto b = ByteBuffer::allocate(8);
  b.position(2).mark();
  b.flip();
  EXPECT_THROW(b.reset(), InvalidMarkException);
  b.clear().position(2).mark();
  b.clear();
  EXPECT_THROW(b.reset(), InvalidMarkException);
  b.position(2).mark();
  b.rewind();
  EXPECT_THROW(b.reset(), InvalidMarkException);
  b.position(2).mark();
  b.compact();
  EXPECT_THROW(b.reset(), InvalidMarkException);
}

TEST(ByteBufferTest, ClearRestoresFullCapacityWithoutErasing) {
  auto b = ByteBuffer::allocate(4);
  b.put(std::string_view("ab")).flip();
  b.clear();
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(b.limit(), 4u);
  EXPECT_EQ(b.get(0), 'a');
}

TEST(ByteBufferTest, RewindKeepsLimit) {
  auto b = ByteBuffer::allocate(8);
  b.put(std::string_view("abc")).flip();
  b.get();
  b.get();
  b.rewind();
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(b.limit(), 3u);
}

TEST(ByteBufferTest, CompactMovesRemainingToFrontAndPreparesForFilling) {
  auto b = ByteBuffer::allocate(8);
  b.put(std::string_view("abcdef")).flip();
  b.get();
  b.get();
  b.compact();
  EXPECT_EQ(b.position(), 4u);
  EXPECT_EQ(b.limit(), 8u);
  b.put(std::string_view("gh")).flip();
  EXPECT_EQ(drain(b), bytes("cdefgh"));
}

TEST(ByteBufferTest, CompactOfEmptyAndFullBuffers) {
  auto b = ByteBuffer::allocate(4);
  b.put(std::string_view("abcd")).flip();
  b.compact();  // nothing read: everything stays
  EXPECT_EQ(b.position(), 4u);
  b.flip();
  EXPECT_EQ(drain(b), bytes("abcd"));
  b.compact();  // everything read: empty
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(b.limit(), 4u);
}

TEST(ByteBufferTest, BulkGetIsAllOrNothing) {
  auto b = ByteBuffer::allocate(8);
  b.put(std::string_view("abc")).flip();
  std::array<std::uint8_t, 4> dst{};
  EXPECT_THROW(b.get(std::span(dst)), BufferUnderflowException);
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(dst[0], 0u);
  std::array<std::uint8_t, 3> fits{};
  b.get(std::span(fits));
  EXPECT_EQ(b.position(), 3u);
  EXPECT_EQ(fits[2], 'c');
}

TEST(ByteBufferTest, BulkPutIsAllOrNothing) {
  auto b = ByteBuffer::allocate(4);
  b.put(std::uint8_t{'x'});
  EXPECT_THROW(b.put(std::string_view("abcd")), BufferOverflowException);
  EXPECT_EQ(b.position(), 1u);
  EXPECT_EQ(b.get(1), 0u);
  b.put(std::string_view("abc"));
  EXPECT_EQ(b.position(), 4u);
}

TEST(ByteBufferTest, PutBufferCopiesRemainingAndAdvancesBoth) {
  auto src = ByteBuffer::allocate(8);
  src.put(std::string_view("hello")).flip();
  src.get();
  auto dst = ByteBuffer::allocate(8);
  dst.put(src);
  EXPECT_EQ(src.position(), 5u);
  EXPECT_EQ(dst.position(), 4u);
  dst.flip();
  EXPECT_EQ(drain(dst), bytes("ello"));
}

TEST(ByteBufferTest, PutBufferIsAllOrNothing) {
  auto src = ByteBuffer::allocate(8);
  src.put(std::string_view("hello")).flip();
  auto dst = ByteBuffer::allocate(4);
  EXPECT_THROW(dst.put(src), BufferOverflowException);
  EXPECT_EQ(src.position(), 0u);
  EXPECT_EQ(dst.position(), 0u);
}

TEST(ByteBufferTest, PutBufferIntoItselfThrows) {
  auto b = ByteBuffer::allocate(8);
  EXPECT_THROW(b.put(b), BufferIndexException);
}

TEST(ByteBufferTest, PutFromOverlappingViewOfSameContent) {
  auto b = ByteBuffer::allocate(8);
  b.put(std::string_view("abcdef")).flip();
  auto src = b.duplicate();
  src.limit(4);  // "abcd"
  b.position(2);
  b.limit(8);
  b.put(src);  // writes "abcd" at 2..5, overlapping the source region 0..3
  b.flip();
  EXPECT_EQ(drain(b), bytes("ababcd"));
}

TEST(ByteBufferTest, SliceSharesContentWithOwnIndices) {
  auto b = ByteBuffer::allocate(8);
  b.put(std::string_view("abcdef")).flip();
  b.position(2);
  auto s = b.slice();
  EXPECT_EQ(s.capacity(), 4u);
  EXPECT_EQ(s.position(), 0u);
  EXPECT_EQ(s.limit(), 4u);
  EXPECT_THROW(s.reset(), InvalidMarkException);
  EXPECT_EQ(s.get(0), 'c');
  s.put(0, 'X');
  EXPECT_EQ(b.get(2), 'X');
  b.put(5, 'Y');
  EXPECT_EQ(s.get(3), 'Y');
  s.get();
  EXPECT_EQ(b.position(), 2u);  // indices are independent
}

TEST(ByteBufferTest, SliceKeepsAllocatedStorageAlive) {
  ByteBuffer s;
  {
    auto b = ByteBuffer::allocate(4);
    b.put(std::string_view("wxyz")).flip();
    b.get();
    s = b.slice();
  }
  EXPECT_EQ(drain(s), bytes("xyz"));
}

TEST(ByteBufferTest, DuplicateCopiesIndicesAndMarkAndSharesContent) {
  auto b = ByteBuffer::allocate(8);
  b.position(1).mark();
  b.position(3).limit(6);
  auto d = b.duplicate();
  EXPECT_EQ(d.capacity(), 8u);
  EXPECT_EQ(d.position(), 3u);
  EXPECT_EQ(d.limit(), 6u);
  d.reset();
  EXPECT_EQ(d.position(), 1u);
  EXPECT_EQ(b.position(), 3u);
  d.put(0, 'q');
  EXPECT_EQ(b.get(0), 'q');
}

TEST(ByteBufferTest, CopyIsADuplicate) {
  auto b = ByteBuffer::allocate(4);
  ByteBuffer c = b;  // like duplicate(): shared content, independent indices
  c.put(std::uint8_t{'k'});
  EXPECT_EQ(b.get(0), 'k');
  EXPECT_EQ(b.position(), 0u);
}

TEST(ByteBufferTest, RemainingSpanIsFreeRegionWhenFillingAndDataWhenDraining) {
  auto b = ByteBuffer::allocate(8);
  b.put(std::string_view("ab"));
  auto free = b.remainingSpan();
  EXPECT_EQ(free.data(), b.array() + 2);
  EXPECT_EQ(free.size(), 6u);
  free[0] = 'c';  // as read(2) would
  b.advance(1);
  b.flip();
  auto data = std::as_const(b).remainingSpan();
  EXPECT_EQ(data.data(), b.array());
  EXPECT_EQ(data.size(), 3u);
  b.advance(2);  // as write(2) draining two bytes would
  EXPECT_EQ(b.get(), 'c');
}

TEST(ByteBufferTest, AdvancePastLimitThrows) {
  auto b = ByteBuffer::allocate(4);
  b.limit(2);
  EXPECT_THROW(b.advance(3), BufferIndexException);
  EXPECT_EQ(b.position(), 0u);
  b.advance(2);
  EXPECT_FALSE(b.hasRemaining());
}

TEST(ByteBufferTest, ExceptionMessagesStateTheIndices) {
  auto b = ByteBuffer::allocate(4);
  try {
    b.position(9);
    FAIL() << "expected BufferIndexException";
  } catch (const BufferIndexException& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("limit=4"), std::string::npos) << what;
    EXPECT_NE(what.find("9"), std::string::npos) << what;
  }
}

// copyOf: an independent copy, ready to be read (position 0, limit = capacity = size).
TEST(ByteBufferTest, CopyOfCopiesTheBytes) {
  std::vector<std::uint8_t> src{1, 2, 3, 4};
  ByteBuffer b = ByteBuffer::copyOf(src);
  src[0] = 9;  // the copy does not follow the source
  EXPECT_EQ(b.capacity(), 4u);
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(b.limit(), 4u);
  EXPECT_EQ(b.get(), 1);
  EXPECT_EQ(b.get(3), 4);
  EXPECT_EQ(ByteBuffer::copyOf(std::span<const std::uint8_t>{}).capacity(), 0u);
}

// Text in and out without reinterpret_cast: copyOf(text) is ready to write, remainingText() is
// what a flipped buffer holds.
TEST(ByteBufferTest, TextConveniences) {
  std::string text = "GET key\r\n";
  ByteBuffer b = ByteBuffer::copyOf(text);
  text[0] = 'X';  // a copy
  EXPECT_EQ(b.position(), 0u);
  EXPECT_EQ(b.limit(), 9u);
  EXPECT_EQ(b.remainingText(), "GET key\r\n");
  b.advance(4);
  EXPECT_EQ(b.remainingText(), "key\r\n");
  EXPECT_EQ(ByteBuffer::copyOf(std::string_view{}).capacity(), 0u);

  ByteBuffer in = ByteBuffer::allocate(16);
  in.put(std::string_view("PONG"));
  in.flip();
  EXPECT_EQ(in.remainingText(), "PONG");
}

}  // namespace
}  // namespace nioxx
