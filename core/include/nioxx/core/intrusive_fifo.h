// IntrusiveFifo<T, Link>: a FIFO of T threaded through the pointer member Link of its nodes (e.g.
// &DispatchNode::next), so pushing and popping never allocate. A node is in at most one such
// queue at a time; the queue does not own its nodes. Copying the queue copies two pointers: a
// std::swap moves a whole FIFO.
//
// Thread rule: none of its own; the owner guards it (a lock, or one thread).
#pragma once

namespace nioxx {

template <class T, auto Link>
class IntrusiveFifo {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  T* front() const noexcept { return head_; }

  void push(T* node) noexcept {
    node->*Link = nullptr;
    if (tail_ == nullptr) {
      head_ = node;
    } else {
      tail_->*Link = node;
    }
    tail_ = node;
  }

  // The oldest node, unlinked; null if empty.
  T* pop() noexcept {
    T* node = head_;
    if (node != nullptr) {
      head_ = next(node);
      if (head_ == nullptr) tail_ = nullptr;
      node->*Link = nullptr;
    }
    return node;
  }

  // Unlinks the first node pred(T&) accepts; null if none does.
  template <class Pred>
  T* removeFirst(Pred pred) noexcept {
    T* prev = nullptr;
    for (T* node = head_; node != nullptr; prev = node, node = next(node)) {
      if (!pred(*node)) continue;
      unlink(prev, node);
      return node;
    }
    return nullptr;
  }

  // Moves every node pred(T&) accepts to the back of `to`, in one pass, keeping both orders.
  // pred is called once per node, oldest first.
  template <class Pred>
  void moveIf(Pred pred, IntrusiveFifo& to) noexcept {
    T* prev = nullptr;
    for (T* node = head_; node != nullptr;) {
      T* const following = next(node);
      if (pred(*node)) {
        unlink(prev, node);
        to.push(node);
      } else {
        prev = node;
      }
      node = following;
    }
  }

 private:
  static T* next(T* node) noexcept { return static_cast<T*>(node->*Link); }
  void unlink(T* prev, T* node) noexcept {
    if (prev == nullptr) {
      head_ = next(node);
    } else {
      prev->*Link = node->*Link;
    }
    if (tail_ == node) tail_ = prev;
    node->*Link = nullptr;
  }

  T* head_ = nullptr;
  T* tail_ = nullptr;
};

}  // namespace nioxx
