// Must not compile: the handler's ACT type is int, the operation's is long.
// With NIOXX_CONTROL the ACT is an int and it compiles.
#include <nioxx/proactor/async_socket.h>

struct Handler : nioxx::CompletionHandler<nioxx::IoResult, int> {
  void completed(nioxx::IoResult&, int&) override {}
  void failed(nioxx::IoResult&, int&) override {}
};

void start(nioxx::AsyncSocket& socket, Handler& handler) {
#ifdef NIOXX_CONTROL
  socket.read(nioxx::ByteBuffer::allocate(16), 1, handler);
#else
  socket.read(nioxx::ByteBuffer::allocate(16), 1L, handler);
#endif
}
