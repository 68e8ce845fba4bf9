// ByteBuffer: a fixed-capacity byte container with Java NIO's position/limit/mark semantics.
//
// Invariant: 0 <= mark <= position <= limit <= capacity. Content is shared between a buffer and
// its slice()/duplicate() views (as in Java); indices are not. allocate() owns its storage;
// wrap() views caller-owned memory, which must outlive every view of it.
//
// Thread rule: a ByteBuffer is not synchronised; one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>

namespace nioxx {

// Java's BufferUnderflowException: a relative get needed more bytes than remain.
struct BufferUnderflowException : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Java's BufferOverflowException: a relative put needed more room than remains.
struct BufferOverflowException : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Java's InvalidMarkException: reset() without a mark (or after the mark was discarded).
struct InvalidMarkException : std::logic_error {
  using std::logic_error::logic_error;
};
// position/limit/index arguments outside the invariant (Java's IllegalArgument/IndexOutOfBounds).
struct BufferIndexException : std::out_of_range {
  using std::out_of_range::out_of_range;
};

class ByteBuffer {
 public:
  ByteBuffer() = default;  // capacity 0
  static ByteBuffer allocate(std::size_t capacity);
  // Views caller-owned memory: position 0, limit = capacity = bytes.size().
  static ByteBuffer wrap(std::span<std::uint8_t> bytes);
  // A new buffer holding a copy of bytes: position 0, limit = capacity = bytes.size() (no zeroing
  // first, unlike allocate()).
  static ByteBuffer copyOf(std::span<const std::uint8_t> bytes);
  // The same for text (no reinterpret_cast at the call site): ByteBuffer::copyOf("PING\r\n"),
  // ready to be written (drain mode).
  static ByteBuffer copyOf(std::string_view text);
  // Shares ownership of capacity bytes at storage (e.g. a BufferPool chunk whose deleter returns
  // it to the pool): the memory lives while any copy of the buffer does.
  static ByteBuffer wrapOwned(std::shared_ptr<std::uint8_t[]> storage, std::size_t capacity);

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t position() const noexcept { return position_; }
  std::size_t limit() const noexcept { return limit_; }
  std::size_t remaining() const noexcept { return limit_ - position_; }
  bool hasRemaining() const noexcept { return position_ < limit_; }

  ByteBuffer& position(std::size_t newPosition);  // throws BufferIndexException if > limit
  ByteBuffer& limit(std::size_t newLimit);        // throws if > capacity; clamps position/mark
  ByteBuffer& flip() noexcept;                    // limit = position, position = 0, mark discarded
  ByteBuffer& clear() noexcept;                   // position = 0, limit = capacity, mark discarded
  ByteBuffer& rewind() noexcept;                  // position = 0, mark discarded
  ByteBuffer&
  compact() noexcept;  // moves [position, limit) to 0; position = remaining; limit = capacity
  ByteBuffer& mark() noexcept;
  ByteBuffer& reset();  // throws InvalidMarkException without a mark

  // Relative single-byte access (throw Underflow/Overflow) and absolute access (throw Index).
  std::uint8_t get();
  std::uint8_t get(std::size_t index) const;
  ByteBuffer& put(std::uint8_t byte);
  ByteBuffer& put(std::size_t index, std::uint8_t byte);

  // Relative bulk access: all or nothing, as in Java.
  ByteBuffer& get(std::span<std::uint8_t> dst);
  ByteBuffer& put(std::span<const std::uint8_t> src);
  ByteBuffer& put(std::string_view src);
  ByteBuffer& put(ByteBuffer& src);  // copies src's remaining bytes, advancing both

  // Views sharing content: slice() covers [position, limit) with its own indices;
  // duplicate() covers everything with a copy of this buffer's indices.
  ByteBuffer slice() const;
  ByteBuffer duplicate() const;

  // Zero-copy access for system calls. In "fill" mode (after clear/compact) this is the free
  // region to read(2) into; in "drain" mode (after flip) it is the data to write(2).
  std::span<std::uint8_t> remainingSpan() noexcept { return {data_ + position_, remaining()}; }
  std::span<const std::uint8_t> remainingSpan() const noexcept {
    return {data_ + position_, remaining()};
  }
  // The remaining bytes as characters (after flip(): the data read), e.g. to compare or parse
  // text. A view of this buffer's memory: valid while the buffer is, until it is modified.
  std::string_view remainingText() const noexcept {
    return {reinterpret_cast<const char*>(data_ + position_), remaining()};
  }
  // Moves position forward by n after a system call filled or drained n bytes.
  ByteBuffer& advance(std::size_t n);

  std::uint8_t* array() noexcept { return data_; }  // the whole backing region [0, capacity)
  const std::uint8_t* array() const noexcept { return data_; }

 private:
  std::shared_ptr<std::uint8_t[]> owner_;  // null for wrap()
  std::uint8_t* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t position_ = 0;
  std::size_t limit_ = 0;
  std::ptrdiff_t mark_ = -1;
};

}  // namespace nioxx
