// Must not compile: an interface handler passed as a temporary (it is kept by reference).
// With NIOXX_CONTROL it is passed as a named object and compiles.
#include <nioxx/proactor/async_socket.h>

struct Handler : nioxx::CompletionHandler<nioxx::IoResult, int> {
  void completed(nioxx::IoResult&, int&) override {}
  void failed(nioxx::IoResult&, int&) override {}
};

void start(nioxx::AsyncSocket& socket) {
#ifdef NIOXX_CONTROL
  static Handler handler;
  socket.read(nioxx::ByteBuffer::allocate(16), 1, handler);
#else
  socket.read(nioxx::ByteBuffer::allocate(16), 1, Handler{});
#endif
}
