// OutputBuffer: the replies of one connection waiting to be written, double-buffered so that the
// region handed to a write stays valid while new replies are appended (a proactive write may be in
// flight while the read side keeps producing replies).
//
// Thread rule: not synchronised; one thread at a time (the connection's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace nioxx::server {

class OutputBuffer {
 public:
  // Where new replies are appended. Appending never moves the bytes returned by next().
  std::string& back() noexcept { return back_; }

  std::size_t pending() const noexcept { return front_.size() - frontPos_ + back_.size(); }
  bool empty() const noexcept { return pending() == 0; }

  // The next bytes to write: stable until consume(), whatever is appended meanwhile.
  std::span<const std::uint8_t> next() noexcept {
    if (frontPos_ == front_.size() && !back_.empty()) {
      front_.clear();
      frontPos_ = 0;
      front_.swap(back_);
    }
    return {reinterpret_cast<const std::uint8_t*>(front_.data()) + frontPos_,
            front_.size() - frontPos_};
  }

  // Moves everything waiting out, in order (the buffers keep no bytes).
  std::string takeAll() {
    std::string all;
    if (frontPos_ == front_.size()) {
      all.swap(back_);
    } else {
      all = front_.substr(frontPos_) + back_;
      back_.clear();
    }
    front_.clear();
    frontPos_ = 0;
    return all;
  }

  // Frees the buffers if nothing waits (an idle connection then holds no output memory).
  void releaseIfEmpty() noexcept {
    if (!empty()) return;
    std::string().swap(front_);
    std::string().swap(back_);
    frontPos_ = 0;
  }

  // Marks n bytes of next() as written.
  void consume(std::size_t n) noexcept {
    frontPos_ += n;
    if (frontPos_ == front_.size()) {
      front_.clear();
      frontPos_ = 0;
      // A huge reply must not pin its memory for the connection's whole life.
      if (front_.capacity() > kKeepCapacity) std::string().swap(front_);
    }
  }

 private:
  static constexpr std::size_t kKeepCapacity = 64 * 1024;
  std::string front_;  // being written: [frontPos_, size)
  std::size_t frontPos_ = 0;
  std::string back_;  // appended since next() last swapped
};

}  // namespace nioxx::server
