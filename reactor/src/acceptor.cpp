#include "nioxx/reactor/acceptor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "nioxx/core/log.h"
#include "nioxx/core/sys.h"

namespace nioxx {

namespace {
constexpr auto kWarningInterval = std::chrono::seconds(1);

// Raw errno comparisons (no error_condition lookup): cheap, and safe while descriptors are
// exhausted (sanitizer runtimes may need a descriptor for a dynamic type check).
bool isErrno(const std::error_code& ec, int value) noexcept {
  return ec.value() == value && &ec.category() == &std::system_category();
}
bool isExhaustion(const std::error_code& ec) noexcept {
  return isErrno(ec, EMFILE) || isErrno(ec, ENFILE);
}
// Errors that concern only the connection being accepted: try the next one.
bool isTransient(const std::error_code& ec) noexcept {
  return isErrno(ec, ECONNABORTED) || isErrno(ec, EPROTO) || isErrno(ec, EPERM);
}
}  // namespace

Acceptor::Acceptor(Reactor& reactor, const InetSocketAddress& address, Factory factory)
    : Acceptor(reactor, address, std::move(factory), Options{}) {}

Acceptor::Acceptor(Reactor& reactor, const InetSocketAddress& address, Factory factory,
                   Options options)
    : reactor_(reactor),
      factory_(std::move(factory)),
      options_(options),
      server_(ServerSocketChannel::open(address.family())) {
  reactor_.assertInLoopThread("Acceptor::Acceptor");
  server_.setReuseAddress(true);
  if (options_.reusePort) server_.setReusePort(true);
  server_.bind(address, options_.backlog);
  localAddress_ = server_.localAddress().value_or(address);
  reopenReserve();
  key_ = &reactor_.registerHandler(server_, SelectionKey::OP_ACCEPT, *this);
}

Acceptor::~Acceptor() {
  close();
}

void Acceptor::close() noexcept {
  if (resumeTimer_) {
    reactor_.cancelTimer(resumeTimer_);
    resumeTimer_ = {};
  }
  server_.close();  // cancels key_
  key_ = nullptr;
  if (reserveFd_ >= 0) {
    ::close(reserveFd_);
    reserveFd_ = -1;
  }
}

void Acceptor::reopenReserve() noexcept {
  if (reserveFd_ < 0) reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Acceptor::handleEvent(SelectionKey& /*key*/) {
  for (int i = 0; i < options_.maxAcceptsPerEvent && server_.isOpen(); ++i) {
    std::error_code ec;
    std::optional<SocketChannel> channel = server_.accept(ec);
    if (channel) {
      ++accepted_;
      factory_(std::move(*channel));
      continue;
    }
    if (!ec) return;  // drained (EAGAIN); readiness was a hint
    if (isTransient(ec)) continue;
    if (isExhaustion(ec)) {
      onExhausted(ec);
      return;
    }
    log::get("reactor")->warn("accept on {} failed: {}", localAddress_.toString(), ec.message());
    return;  // e.g. ENOBUFS/ENOMEM: level-triggered, so we retry at the next select
  }
}

void Acceptor::onExhausted(const std::error_code& ec) {
  // The reserve-descriptor trick (libuv, muduo): free one slot, accept and close at once so the
  // client sees a close instead of waiting in the backlog, until the backlog is empty.
  if (reserveFd_ >= 0) {
    ::close(reserveFd_);
    reserveFd_ = -1;
    std::uint64_t shedNow = 0;
    for (int i = 0; i < options_.maxAcceptsPerEvent; ++i) {
      const int fd = sys::accept4(server_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;
      sys::close(fd);
      ++shedNow;
    }
    shed_ += shedNow;
    if (shedNow > 0 && options_.onShed) options_.onShed(shedNow);
    reopenReserve();
  }
  const auto now = sys::now();
  if (now - lastWarning_ >= kWarningInterval) {
    log::get("reactor")->warn(
        "accept on {}: {}; shedding connections and pausing accepts for {} ms ({} similar "
        "warnings suppressed). Raise the descriptor limit (ulimit -n) or lower the load.",
        localAddress_.toString(), ec.message(), options_.exhaustionPause.count(),
        suppressedWarnings_);
    lastWarning_ = now;
    suppressedWarnings_ = 0;
  } else {
    ++suppressedWarnings_;
  }
  // Level-triggered readiness would report the backlog again at once: pause accept interest
  // (Netty) so the loop keeps serving existing connections instead of spinning.
  if (key_ != nullptr && key_->isValid() && !resumeTimer_) {
    key_->interestOps(0);
    resumeTimer_ = reactor_.schedule(options_.exhaustionPause, [this] {
      resumeTimer_ = {};
      if (key_ != nullptr && key_->isValid()) key_->interestOps(SelectionKey::OP_ACCEPT);
    });
  }
}

}  // namespace nioxx
