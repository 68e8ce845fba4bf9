// The hello protocol for the baseline servers (Asio, hand-written epoll): protobuf's standard
// length-delimited framing (varint32 length, then a HelloRequest), answered in order with
// HelloReply{greeting = "Hello, " + name + "!", seq = seq}.
//
// The baselines are yardsticks for nioxx, so they use protobuf's generated classes exactly as
// nioxx's hello server does and depend on nothing from nioxx itself. Unlike the real server they
// answer bad input by simply closing the connection (the benchmark never sends any).
//
// Thread rule: a HelloSession is used by one thread at a time (one per connection or per loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <google/protobuf/io/coded_stream.h>

#include "hello.pb.h"

namespace nioxx::bench {

inline constexpr std::size_t kMaxFrame = 65536;

// A growable byte buffer that keeps its capacity between uses (no per-request allocation).
class OutBuffer {
 public:
  OutBuffer() = default;
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;
  ~OutBuffer() { std::free(data_); }

  std::uint8_t* data() noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void clear() noexcept { size_ = 0; }
  // Drops the first n bytes (after a partial write).
  void consume(std::size_t n) noexcept {
    std::memmove(data_, data_ + n, size_ - n);
    size_ -= n;
  }
  // Returns room for n more bytes at the end; commit(k) then adds k of them.
  std::uint8_t* reserve(std::size_t n) {
    if (size_ + n > cap_) {
      std::size_t cap = cap_ ? cap_ : 512;
      while (cap < size_ + n)
        cap *= 2;
      auto* p = static_cast<std::uint8_t*>(std::realloc(data_, cap));
      if (p == nullptr) throw std::bad_alloc();
      data_ = p;
      cap_ = cap;
    }
    return data_ + size_;
  }
  void commit(std::size_t n) noexcept { size_ += n; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

// Reused request/reply messages: parsing into the same HelloRequest keeps its string capacity.
class HelloSession {
 public:
  // Answers every complete frame in [data, data + size), appending the replies to out. Returns
  // the bytes consumed (a partial frame at the end stays with the caller), or -1 on bad input.
  std::ptrdiff_t answer(const std::uint8_t* data, std::size_t size, OutBuffer& out) {
    std::size_t pos = 0;
    while (pos < size) {
      std::uint32_t len = 0;
      std::size_t header = 0;
      if (!readVarint(data + pos, size - pos, len, header)) {
        if (header > 5) return -1;  // a varint longer than 5 bytes
        break;                      // incomplete prefix
      }
      if (len > kMaxFrame) return -1;
      if (size - pos - header < len) break;  // incomplete payload
      if (!request_.ParseFromArray(data + pos + header, static_cast<int>(len))) return -1;
      std::string* greeting = reply_.mutable_greeting();
      greeting->assign("Hello, ", 7);
      greeting->append(request_.name());
      greeting->push_back('!');
      reply_.set_seq(request_.seq());
      const std::size_t body = reply_.ByteSizeLong();
      std::uint8_t* dst = out.reserve(5 + body);
      std::uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
          static_cast<std::uint32_t>(body), dst);
      end = reply_.SerializeWithCachedSizesToArray(end);
      out.commit(static_cast<std::size_t>(end - dst));
      pos += header + len;
    }
    return static_cast<std::ptrdiff_t>(pos);
  }

 private:
  // Decodes a varint32 prefix; false when incomplete (header = bytes seen) or too long (> 5).
  static bool readVarint(const std::uint8_t* p, std::size_t n, std::uint32_t& value,
                         std::size_t& header) noexcept {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      if (i == n) {
        header = i;
        return false;
      }
      v |= static_cast<std::uint32_t>(p[i] & 0x7F) << (7 * i);
      if ((p[i] & 0x80) == 0) {
        value = v;
        header = i + 1;
        return true;
      }
    }
    header = 6;
    return false;
  }

  hello::HelloRequest request_;
  hello::HelloReply reply_;
};

}  // namespace nioxx::bench
