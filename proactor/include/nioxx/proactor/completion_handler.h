// Completion Handlers (Proactor paper 6.2) in three forms, accepted by every initiating call:
//
// 1. An interface, as Java NIO.2's CompletionHandler<V,A> and ACE's ACE_Handler:
//      struct Echo : nioxx::CompletionHandler<nioxx::IoResult, std::shared_ptr<Conn>> {
//        void completed(nioxx::IoResult& r, std::shared_ptr<Conn>& conn) override { ... }
//        void failed(nioxx::IoResult& r, std::shared_ptr<Conn>& conn) override { ... }
//      };
//    Pass it by lvalue reference (or pointer); it must outlive its operations. One object can
//    have many operations in flight and tell them apart by the ACT alone. Make the ACT a
//    std::shared_ptr to the connection's state: an operation keeps its ACT until its handler ran,
//    so the state lives while any operation of it is in flight. A raw pointer dangles once one
//    handler frees the state while another operation of the socket is still to complete
//    (examples/proactive_echo is a whole program in this style).
// 2. Any callable: void(Result&, Act&) or, without an ACT, void(Result&).
// 3. nioxx::use_future: the call returns std::future<Result> (the rendezvous style, paper 7.2.1).
//    Errors are inside the result (result.error()), not thrown.
//
// The ACT (Asynchronous Completion Token) is typed: whatever the caller passed is handed back
// to the handler, by reference, untouched.
//
// Handlers must not throw: an exception escaping a handler terminates the process.
#pragma once

#include <future>
#include <memory>
#include <type_traits>
#include <utility>

namespace nioxx {

// The ACT of operations initiated without one.
struct NoAct {};

// Tag selecting the std::future form.
struct UseFuture {};
inline constexpr UseFuture use_future{};

template <class Result, class Act = NoAct>
class CompletionHandler {
 public:
  using result_type = Result;
  using act_type = Act;
  virtual ~CompletionHandler() = default;
  // result.success() is true.
  virtual void completed(Result& result, Act& act) = 0;
  // result.error() says why: operation_aborted (cancel/close/shutdown), timed_out,
  // end_of_stream, read_pending, queue_full, or an OS error. Partial progress is in
  // result.bytesTransferred() and the buffer.
  virtual void failed(Result& result, Act& act) = 0;
};

namespace detail {

template <class T>
struct IsSharedPtr : std::false_type {};
template <class T>
struct IsSharedPtr<std::shared_ptr<T>> : std::true_type {};

// The ACT type of the CompletionHandler<Result, A> a handler derives from (void if none).
template <class Result, class A>
A interfaceActOf(const CompletionHandler<Result, A>*);
template <class Result>
void interfaceActOf(const void*);
template <class Result, class Raw>
struct InterfaceActOf {
  using type = void;
};
template <class Result, class Raw>
requires requires {
  interfaceActOf<Result>(static_cast<const Raw*>(nullptr));
}
struct InterfaceActOf<Result, Raw> {
  using type = decltype(interfaceActOf<Result>(static_cast<const Raw*>(nullptr)));
};
template <class Result, class Raw>
using InterfaceAct = typename InterfaceActOf<Result, Raw>::type;

// Named so the compiler's "required from" line shows both ACT types.
template <class HandlerAct, class PassedAct>
struct ActTypeMismatch {
  static_assert(std::is_same_v<HandlerAct, PassedAct>,
                "the handler derives from nioxx::CompletionHandler<Result, HandlerAct> but the "
                "operation was initiated with an ACT of another type, PassedAct (the compiler "
                "names both in 'ActTypeMismatch<HandlerAct, PassedAct>' above): pass an ACT of "
                "exactly the handler's ACT type, or change the handler's second template "
                "argument");
  static constexpr bool value = true;
};

template <bool kIsInterface, class HandlerAct, class PassedAct>
constexpr bool actMatches() {
  if constexpr (kIsInterface) {
    return ActTypeMismatch<HandlerAct, PassedAct>::value;  // instantiated for interfaces only
  } else {
    return true;
  }
}

// How a handler is stored in its operation: interface handlers by pointer (the caller keeps
// them alive), callables by value (moved in once; no std::function).
template <class Result, class Act, class H>
struct HandlerStorage {
  using Raw = std::remove_cvref_t<H>;
  using HandlerAct = InterfaceAct<Result, Raw>;
  static constexpr bool kIsInterface = !std::is_void_v<HandlerAct>;
  static_assert(actMatches<kIsInterface, HandlerAct, Act>());
  static_assert(!kIsInterface || std::is_lvalue_reference_v<H>,
                "an interface completion handler (derived from nioxx::CompletionHandler) is kept "
                "by reference and must outlive its operations: pass a named object (an lvalue), "
                "not a temporary or std::move(handler)");
  static constexpr bool kInterfaceRef =
      std::is_lvalue_reference_v<H> && std::is_base_of_v<CompletionHandler<Result, Act>, Raw>;
  using type = std::conditional_t<kInterfaceRef, CompletionHandler<Result, Act>*, Raw>;

  static type make(H&& h) {
    if constexpr (kInterfaceRef) {
      return &h;
    } else {
      return type(std::forward<H>(h));
    }
  }
};

template <class>
inline constexpr bool kDependentFalse = false;

template <class Result, class Act, class H>
void invokeHandler(H& h, Result& r, Act& act) {
  if constexpr (std::is_pointer_v<H> || IsSharedPtr<H>::value) {
    if (r.success()) {
      h->completed(r, act);
    } else {
      h->failed(r, act);
    }
  } else if constexpr (std::is_same_v<H, std::promise<Result>>) {
    h.set_value(std::move(r));
  } else if constexpr (std::is_invocable_v<H&, Result&, Act&>) {
    h(r, act);
  } else if constexpr (std::is_invocable_v<H&, Result&>) {
    h(r);
  } else if constexpr (std::is_invocable_v<H&>) {
    h();
  } else {
    static_assert(kDependentFalse<H>,
                  "a completion handler must be callable as void(Result&, Act&) or "
                  "void(Result&), or derive from nioxx::CompletionHandler<Result, Act>");
  }
}

}  // namespace detail
}  // namespace nioxx
