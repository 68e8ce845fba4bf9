// UniqueFunction<R(Args...)>: a move-only std::function (C++23's std::move_only_function, which
// GCC 12 lacks), so a task may own move-only state: a SocketChannel handed to another loop, a
// std::unique_ptr, a std::promise. Callables of up to kInlineBytes that move without throwing
// are stored inline (no allocation, as std::function's small-object buffer), larger ones on the
// heap.
//
// Calling an empty UniqueFunction throws std::bad_function_call. Not thread-safe (a value type).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace nioxx {

template <class Signature>
class UniqueFunction;

template <class R, class... Args>
class UniqueFunction<R(Args...)> {
 public:
  static constexpr std::size_t kInlineBytes = 3 * sizeof(void*);

  UniqueFunction() noexcept = default;
  UniqueFunction(std::nullptr_t) noexcept {}  // NOLINT: as std::function
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, UniqueFunction> &&
           std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
      UniqueFunction(F&& f) {  // NOLINT: implicit, as std::function
    using Fn = std::decay_t<F>;
    if constexpr (requires { f == nullptr; }) {
      if (f == nullptr) return;  // an empty std::function or a null function pointer
    }
    if constexpr (fitsInline<Fn>()) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
      ops_ = &inlineOps<Fn>;
    } else {
      *reinterpret_cast<Fn**>(storage_) = new Fn(std::forward<F>(f));
      ops_ = &heapOps<Fn>;
    }
  }
  UniqueFunction(UniqueFunction&& o) noexcept : ops_(o.ops_) {
    if (ops_ != nullptr) ops_->move(o.storage_, storage_);
    o.ops_ = nullptr;
  }
  UniqueFunction& operator=(UniqueFunction&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_ != nullptr) ops_->move(o.storage_, storage_);
      o.ops_ = nullptr;
    }
    return *this;
  }
  UniqueFunction(const UniqueFunction&) = delete;
  UniqueFunction& operator=(const UniqueFunction&) = delete;
  ~UniqueFunction() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  R operator()(Args... args) {
    if (ops_ == nullptr) throw std::bad_function_call();
    return ops_->call(storage_, std::forward<Args>(args)...);
  }

 private:
  struct Ops {
    R (*call)(void* self, Args&&... args);
    void (*move)(void* from, void* to) noexcept;  // leaves `from` destroyed
    void (*destroy)(void* self) noexcept;
  };
  template <class Fn>
  static constexpr bool fitsInline() {
    return sizeof(Fn) <= kInlineBytes && alignof(Fn) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<Fn>;
  }
  template <class Fn>
  static constexpr Ops inlineOps{[](void* self, Args&&... args) -> R {
                                   return std::invoke(*static_cast<Fn*>(self),
                                                      std::forward<Args>(args)...);
                                 },
                                 [](void* from, void* to) noexcept {
                                   ::new (to) Fn(std::move(*static_cast<Fn*>(from)));
                                   static_cast<Fn*>(from)->~Fn();
                                 },
                                 [](void* self) noexcept { static_cast<Fn*>(self)->~Fn(); }};
  template <class Fn>
  static constexpr Ops heapOps{
      [](void* self, Args&&... args) -> R {
        return std::invoke(**static_cast<Fn**>(self), std::forward<Args>(args)...);
      },
      [](void* from, void* to) noexcept { *static_cast<Fn**>(to) = *static_cast<Fn**>(from); },
      [](void* self) noexcept { delete *static_cast<Fn**>(self); }};

  void reset() noexcept {
    if (ops_ != nullptr) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  alignas(std::max_align_t) std::byte storage_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

}  // namespace nioxx
