#include "nioxx/core/byte_buffer.h"

#include <cstring>
#include <string>
#include <utility>

#include "nioxx/core/recycling_allocator.h"

namespace nioxx {
namespace {

std::string where(const std::string& call, std::size_t position, std::size_t limit,
                  std::size_t capacity) {
  return call + " [position=" + std::to_string(position) + " limit=" + std::to_string(limit) +
         " capacity=" + std::to_string(capacity) + "]";
}

// memcpy/memmove with a null pointer are undefined even for zero bytes; empty buffers have one.
void moveBytes(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) noexcept {
  if (n != 0) std::memmove(dst, src, n);
}

}  // namespace

ByteBuffer ByteBuffer::allocate(std::size_t capacity) {
  ByteBuffer buffer;
  if (capacity != 0) {
    // allocate_shared<T[]> value-initialises: a new buffer reads as zeros, as in Java. Small
    // buffers come and go per request: their blocks are recycled per thread, not malloc'ed.
    buffer.owner_ =
        std::allocate_shared<std::uint8_t[]>(RecyclingAllocator<std::uint8_t>{}, capacity);
    buffer.data_ = buffer.owner_.get();
  }
  buffer.capacity_ = capacity;
  buffer.limit_ = capacity;
  return buffer;
}

ByteBuffer ByteBuffer::copyOf(std::span<const std::uint8_t> bytes) {
  ByteBuffer buffer;
  if (!bytes.empty()) {
    // One block (control block + bytes), recycled per thread when small: a reply per request.
    buffer.owner_ = std::allocate_shared_for_overwrite<std::uint8_t[]>(
        RecyclingAllocator<std::uint8_t>{}, bytes.size());
    buffer.data_ = buffer.owner_.get();
    std::memcpy(buffer.data_, bytes.data(), bytes.size());
  }
  buffer.capacity_ = bytes.size();
  buffer.limit_ = bytes.size();
  return buffer;
}

ByteBuffer ByteBuffer::wrapOwned(std::shared_ptr<std::uint8_t[]> storage, std::size_t capacity) {
  ByteBuffer buffer;
  buffer.owner_ = std::move(storage);
  buffer.data_ = buffer.owner_.get();
  buffer.capacity_ = buffer.data_ != nullptr ? capacity : 0;
  buffer.limit_ = buffer.capacity_;
  return buffer;
}

ByteBuffer ByteBuffer::wrap(std::span<std::uint8_t> bytes) {
  ByteBuffer buffer;
  buffer.data_ = bytes.data();
  buffer.capacity_ = bytes.size();
  buffer.limit_ = bytes.size();
  return buffer;
}

ByteBuffer& ByteBuffer::position(std::size_t newPosition) {
  if (newPosition > limit_) {
    throw BufferIndexException(
        where("ByteBuffer::position: new position " + std::to_string(newPosition) +
                  " exceeds the limit; raise limit() first or flip()/clear() the buffer",
              position_, limit_, capacity_));
  }
  if (mark_ > static_cast<std::ptrdiff_t>(newPosition)) mark_ = -1;
  position_ = newPosition;
  return *this;
}

ByteBuffer& ByteBuffer::limit(std::size_t newLimit) {
  if (newLimit > capacity_) {
    throw BufferIndexException(where(
        ("ByteBuffer::limit: new limit " + std::to_string(newLimit) + " exceeds the capacity"),
        position_, limit_, capacity_));
  }
  limit_ = newLimit;
  if (position_ > newLimit) position_ = newLimit;
  if (mark_ > static_cast<std::ptrdiff_t>(newLimit)) mark_ = -1;
  return *this;
}

ByteBuffer& ByteBuffer::flip() noexcept {
  limit_ = position_;
  position_ = 0;
  mark_ = -1;
  return *this;
}

ByteBuffer& ByteBuffer::clear() noexcept {
  position_ = 0;
  limit_ = capacity_;
  mark_ = -1;
  return *this;
}

ByteBuffer& ByteBuffer::rewind() noexcept {
  position_ = 0;
  mark_ = -1;
  return *this;
}

ByteBuffer& ByteBuffer::compact() noexcept {
  const std::size_t n = remaining();
  moveBytes(data_, data_ + position_, n);  // regions may overlap
  position_ = n;
  limit_ = capacity_;
  mark_ = -1;
  return *this;
}

ByteBuffer& ByteBuffer::mark() noexcept {
  mark_ = static_cast<std::ptrdiff_t>(position_);
  return *this;
}

ByteBuffer& ByteBuffer::reset() {
  if (mark_ < 0) {
    throw InvalidMarkException(where(
        "ByteBuffer::reset: no mark is set (flip/clear/rewind/compact, or moving position/limit "
        "below the mark, discard it); call mark() first",
        position_, limit_, capacity_));
  }
  position_ = static_cast<std::size_t>(mark_);
  return *this;
}

std::uint8_t ByteBuffer::get() {
  if (position_ >= limit_) {
    throw BufferUnderflowException(
        where("ByteBuffer::get: no bytes remain; check hasRemaining() first", position_, limit_,
              capacity_));
  }
  return data_[position_++];
}

std::uint8_t ByteBuffer::get(std::size_t index) const {
  if (index >= limit_) {
    throw BufferIndexException(where(
        ("ByteBuffer::get(index): index " + std::to_string(index) + " is not below the limit"),
        position_, limit_, capacity_));
  }
  return data_[index];
}

ByteBuffer& ByteBuffer::put(std::uint8_t byte) {
  if (position_ >= limit_) {
    throw BufferOverflowException(
        where("ByteBuffer::put: no room remains; compact() or clear() the buffer first", position_,
              limit_, capacity_));
  }
  data_[position_++] = byte;
  return *this;
}

ByteBuffer& ByteBuffer::put(std::size_t index, std::uint8_t byte) {
  if (index >= limit_) {
    throw BufferIndexException(where(
        ("ByteBuffer::put(index): index " + std::to_string(index) + " is not below the limit"),
        position_, limit_, capacity_));
  }
  data_[index] = byte;
  return *this;
}

ByteBuffer& ByteBuffer::get(std::span<std::uint8_t> dst) {
  if (dst.size() > remaining()) {
    throw BufferUnderflowException(where(("ByteBuffer::get(span): " + std::to_string(dst.size()) +
                                          " bytes requested but fewer remain; nothing was read"),
                                         position_, limit_, capacity_));
  }
  moveBytes(dst.data(), data_ + position_, dst.size());
  position_ += dst.size();
  return *this;
}

ByteBuffer& ByteBuffer::put(std::span<const std::uint8_t> src) {
  if (src.size() > remaining()) {
    throw BufferOverflowException(where(("ByteBuffer::put(span): " + std::to_string(src.size()) +
                                         " bytes do not fit in the remaining room; nothing was "
                                         "written"),
                                        position_, limit_, capacity_));
  }
  moveBytes(data_ + position_, src.data(), src.size());  // src may view this buffer's content
  position_ += src.size();
  return *this;
}

ByteBuffer ByteBuffer::copyOf(std::string_view text) {
  return copyOf(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

ByteBuffer& ByteBuffer::put(std::string_view src) {
  return put(std::span(reinterpret_cast<const std::uint8_t*>(src.data()), src.size()));
}

ByteBuffer& ByteBuffer::put(ByteBuffer& src) {
  if (&src == this) {
    throw BufferIndexException("ByteBuffer::put(ByteBuffer&): a buffer cannot be put into itself");
  }
  const std::size_t n = src.remaining();
  if (n > remaining()) {
    throw BufferOverflowException(
        where(("ByteBuffer::put(ByteBuffer&): the source's " + std::to_string(n) +
               " remaining bytes do not fit; nothing was written"),
              position_, limit_, capacity_));
  }
  moveBytes(data_ + position_, src.data_ + src.position_, n);  // views may share content
  position_ += n;
  src.position_ += n;
  return *this;
}

ByteBuffer ByteBuffer::slice() const {
  ByteBuffer view;
  view.owner_ = owner_;
  view.data_ = data_ == nullptr ? nullptr : data_ + position_;
  view.capacity_ = remaining();
  view.limit_ = view.capacity_;
  return view;
}

ByteBuffer ByteBuffer::duplicate() const {
  return *this;
}

ByteBuffer& ByteBuffer::advance(std::size_t n) {
  if (n > remaining()) {
    throw BufferIndexException(where(("ByteBuffer::advance: " + std::to_string(n) +
                                      " bytes is more than remain; a system call cannot have "
                                      "transferred more than remainingSpan().size()"),
                                     position_, limit_, capacity_));
  }
  position_ += n;
  return *this;
}

}  // namespace nioxx
