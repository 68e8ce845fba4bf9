// KeyList: the keys of one SelectableChannel, with room for one key inline. A channel is almost
// always registered with exactly one selector, so the common case allocates nothing (one heap
// block less per connection: idle memory per connection is a measured target, issue 7).
//
// Thread rule: guarded by the process-wide link mutex, like the rest of the key <-> channel links.
#pragma once

#include <algorithm>
#include <cstdint>

namespace nioxx {

class SelectionKey;

namespace detail {

class KeyList {
 public:
  KeyList() noexcept = default;
  KeyList(const KeyList&) = delete;
  KeyList& operator=(const KeyList&) = delete;
  ~KeyList() { freeHeap(); }

  SelectionKey** begin() noexcept { return data_; }
  SelectionKey** end() noexcept { return data_ + size_; }
  SelectionKey* const* begin() const noexcept { return data_; }
  SelectionKey* const* end() const noexcept { return data_ + size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::uint32_t size() const noexcept { return size_; }

  void push_back(SelectionKey* key) {
    if (size_ == capacity_) grow();
    data_[size_++] = key;
  }
  // Order is not kept (nobody relies on it).
  void remove(SelectionKey* key) noexcept {
    SelectionKey** it = std::find(begin(), end(), key);
    if (it != end()) *it = data_[--size_];
  }
  void clear() noexcept { size_ = 0; }
  // Moves every key of other here (replacing ours); other ends up empty.
  void takeFrom(KeyList& other) {
    clear();
    for (SelectionKey* key : other)
      push_back(key);
    other.clear();
  }

 private:
  void grow() {
    auto* bigger = new SelectionKey*[capacity_ * 2];
    std::copy(begin(), end(), bigger);
    freeHeap();
    data_ = bigger;
    capacity_ *= 2;
  }
  void freeHeap() noexcept {
    if (data_ != &inline_) delete[] data_;
  }

  SelectionKey* inline_ = nullptr;
  SelectionKey** data_ = &inline_;
  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = 1;
};

}  // namespace detail
}  // namespace nioxx
