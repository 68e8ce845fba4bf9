// sys: the operating system as nioxx sees it. Every socket/pipe system call of the channels, the
// emulated engine and the proactor's handles, and every steady-clock read of the loops, goes
// through these inline wrappers, so a test can replace the OS with a simulated one (sim/: seeded
// readiness, partial I/O, resets, a virtual clock) and run the real code against it.
//
// Cost: one load of a global pointer and a predicted branch per call; with no Os installed the
// wrapper is the system call itself (measured in docs/RELIABILITY.md, "Deterministic simulation").
//
// The wrappers keep POSIX conventions (-1 and errno). An Os handles every descriptor it is given;
// the simulator passes numbers below its own range (real files, the engine's reserve) to the
// kernel. Thread rule: install() before any nioxx object exists and uninstall after the last is
// gone; the calls themselves are as thread-safe as the installed Os (the kernel: fully).
#pragma once

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>

namespace nioxx::sys {

class Os {
 public:
  virtual ~Os() = default;
  virtual int socket(int domain, int type, int protocol) noexcept = 0;
  virtual int socketpair(int domain, int type, int protocol, int sv[2]) noexcept = 0;
  virtual int pipe2(int fds[2], int flags) noexcept = 0;
  virtual int close(int fd) noexcept = 0;
  virtual int dup3(int oldFd, int newFd, int flags) noexcept = 0;
  virtual int fcntl(int fd, int cmd, int arg) noexcept = 0;
  virtual ssize_t read(int fd, void* buf, std::size_t n) noexcept = 0;
  virtual ssize_t readv(int fd, const iovec* iov, int count) noexcept = 0;
  virtual ssize_t recv(int fd, void* buf, std::size_t n, int flags) noexcept = 0;
  virtual ssize_t write(int fd, const void* buf, std::size_t n) noexcept = 0;
  virtual ssize_t send(int fd, const void* buf, std::size_t n, int flags) noexcept = 0;
  virtual ssize_t sendmsg(int fd, const msghdr* msg, int flags) noexcept = 0;
  // sendfile(2) from a real file (inFd) to outFd. Not pure: by default an Os that only knows
  // sockets (the simulator) gets a bounded pread() of the file and its own send() of the bytes,
  // so transmit operations run against it unchanged; *offset advances by what send() took.
  virtual ssize_t sendfile(int outFd, int inFd, off_t* offset, std::size_t n) noexcept;
  virtual int connect(int fd, const sockaddr* addr, socklen_t len) noexcept = 0;
  virtual int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) noexcept = 0;
  virtual int bind(int fd, const sockaddr* addr, socklen_t len) noexcept = 0;
  virtual int listen(int fd, int backlog) noexcept = 0;
  virtual int shutdown(int fd, int how) noexcept = 0;
  virtual int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept = 0;
  virtual int setsockopt(int fd, int level, int name, const void* value,
                         socklen_t len) noexcept = 0;
  virtual int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept = 0;
  virtual int getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept = 0;
  virtual std::chrono::steady_clock::time_point now() noexcept = 0;
};

namespace detail {
extern Os* gOs;  // nullptr: the kernel
}  // namespace detail

// Replaces the OS (nullptr restores the kernel). Not synchronised: see the thread rule above.
void install(Os* os) noexcept;
inline Os* installed() noexcept {
  return detail::gOs;
}

#define NIOXX_SYS_CALL(call, ...)                       \
  if (Os* os = detail::gOs; os != nullptr) [[unlikely]] \
    return os->call(__VA_ARGS__);                       \
  return ::call(__VA_ARGS__)

// The per-byte calls (read, readv, recv, write, send, sendmsg) bypass glibc's wrappers and make the
// system call directly. In a process with more than one thread, glibc brackets every cancellation
// point with __pthread_enable/disable_asynccancel: two atomic compare-exchanges on the thread's
// cancel state and ~60 instructions per call, paid on every request (issue 17; a single-threaded
// program such as the epoll baseline skips them). nioxx never cancels its threads (and a program
// must not pthread_cancel a thread running nioxx code), so the direct call is the same call.
// Sanitizer builds keep the wrappers: ASan checks the buffers in them and TSan sees the
// descriptors' happens-before edges through them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NIOXX_SYS_DIRECT 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define NIOXX_SYS_DIRECT 0
#endif
#endif
#ifndef NIOXX_SYS_DIRECT
#define NIOXX_SYS_DIRECT 1
#endif

#if NIOXX_SYS_DIRECT
#define NIOXX_SYS_IO(call, args, number, ...)           \
  if (Os* os = detail::gOs; os != nullptr) [[unlikely]] \
    return os->call args;                               \
  return ::syscall(number, __VA_ARGS__)
#else
#define NIOXX_SYS_IO(call, args, number, ...)           \
  if (Os* os = detail::gOs; os != nullptr) [[unlikely]] \
    return os->call args;                               \
  return ::call args
#endif

inline int socket(int domain, int type, int protocol) noexcept {
  NIOXX_SYS_CALL(socket, domain, type, protocol);
}
inline int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  NIOXX_SYS_CALL(socketpair, domain, type, protocol, sv);
}
inline int pipe2(int fds[2], int flags) noexcept {
  NIOXX_SYS_CALL(pipe2, fds, flags);
}
inline int close(int fd) noexcept {
  NIOXX_SYS_CALL(close, fd);
}
inline int dup3(int oldFd, int newFd, int flags) noexcept {
  NIOXX_SYS_CALL(dup3, oldFd, newFd, flags);
}
inline int fcntl(int fd, int cmd, int arg = 0) noexcept {
  NIOXX_SYS_CALL(fcntl, fd, cmd, arg);
}
inline ssize_t read(int fd, void* buf, std::size_t n) noexcept {
  NIOXX_SYS_IO(read, (fd, buf, n), SYS_read, long{fd}, buf, n);
}
inline ssize_t readv(int fd, const iovec* iov, int count) noexcept {
  NIOXX_SYS_IO(readv, (fd, iov, count), SYS_readv, long{fd}, iov, long{count});
}
inline ssize_t recv(int fd, void* buf, std::size_t n, int flags) noexcept {
  NIOXX_SYS_IO(recv, (fd, buf, n, flags), SYS_recvfrom, long{fd}, buf, n, long{flags},
               static_cast<void*>(nullptr), static_cast<void*>(nullptr));
}
inline ssize_t write(int fd, const void* buf, std::size_t n) noexcept {
  NIOXX_SYS_IO(write, (fd, buf, n), SYS_write, long{fd}, buf, n);
}
inline ssize_t send(int fd, const void* buf, std::size_t n, int flags) noexcept {
  NIOXX_SYS_IO(send, (fd, buf, n, flags), SYS_sendto, long{fd}, buf, n, long{flags},
               static_cast<void*>(nullptr), 0L);
}
inline ssize_t sendmsg(int fd, const msghdr* msg, int flags) noexcept {
  NIOXX_SYS_IO(sendmsg, (fd, msg, flags), SYS_sendmsg, long{fd}, msg, long{flags});
}
inline ssize_t sendfile(int outFd, int inFd, off_t* offset, std::size_t n) noexcept {
  NIOXX_SYS_CALL(sendfile, outFd, inFd, offset, n);
}
inline int connect(int fd, const sockaddr* addr, socklen_t len) noexcept {
  NIOXX_SYS_CALL(connect, fd, addr, len);
}
inline int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) noexcept {
  NIOXX_SYS_CALL(accept4, fd, addr, len, flags);
}
inline int bind(int fd, const sockaddr* addr, socklen_t len) noexcept {
  NIOXX_SYS_CALL(bind, fd, addr, len);
}
inline int listen(int fd, int backlog) noexcept {
  NIOXX_SYS_CALL(listen, fd, backlog);
}
inline int shutdown(int fd, int how) noexcept {
  NIOXX_SYS_CALL(shutdown, fd, how);
}
inline int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept {
  NIOXX_SYS_CALL(getsockopt, fd, level, name, value, len);
}
inline int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  NIOXX_SYS_CALL(setsockopt, fd, level, name, value, len);
}
inline int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept {
  NIOXX_SYS_CALL(getsockname, fd, addr, len);
}
inline int getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept {
  NIOXX_SYS_CALL(getpeername, fd, addr, len);
}

#undef NIOXX_SYS_CALL
#undef NIOXX_SYS_IO

// std::chrono::steady_clock::now(), or the simulator's virtual clock.
inline std::chrono::steady_clock::time_point now() noexcept {
  if (Os* os = detail::gOs; os != nullptr) [[unlikely]]
    return os->now();
  return std::chrono::steady_clock::now();
}

}  // namespace nioxx::sys
