#include "conformance_fixture.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "nioxx/proactor/live_counts.h"

namespace nioxx::conformance {

ByteBuffer bufferOf(std::string_view bytes) {
  ByteBuffer b = ByteBuffer::allocate(bytes.size());
  b.put(bytes);
  b.flip();
  return b;
}

std::string filledPart(const ByteBuffer& b) {
  return std::string(reinterpret_cast<const char*>(b.array()), b.position());
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  reset();
}

void UniqueFd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string readPeer(int fd, std::size_t n, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string out;
  char chunk[65536];
  while (out.size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t got = ::read(fd, chunk, std::min(sizeof(chunk), n - out.size()));
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) break;
    out.append(chunk, static_cast<std::size_t>(got));
  }
  return out;
}

bool writePeer(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void ConformanceTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  watchdog_.arm(100s, std::string(info->test_suite_name()) + "." + info->name());
  liveOperationsAtStart_ = liveOperationCount();
  liveChannelsAtStart_ = liveChannelCount();
  proactor_ = GetParam().make();
  runThreads_ = std::make_unique<RunThreads>(*proactor_, GetParam().runners);
}

void ConformanceTest::TearDown() {
  shutdownProactor();
  runThreads_.reset();
  proactor_.reset();
  // Leak check: every operation freed and every channel gone once the test's sockets are.
  const bool clean = eventually(
      [&] {
        return liveOperationCount() == liveOperationsAtStart_ &&
               liveChannelCount() == liveChannelsAtStart_;
      },
      2s);
  EXPECT_TRUE(clean) << "leak: live operations " << liveOperationsAtStart_ << " -> "
                     << liveOperationCount() << ", live channels " << liveChannelsAtStart_ << " -> "
                     << liveChannelCount() << " after shutdown and dropping every socket";
  watchdog_.disarm();
}

std::pair<AsyncSocket, AsyncSocket> ConformanceTest::socketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  return {AsyncSocket::adopt(proactor(), fds[0]), AsyncSocket::adopt(proactor(), fds[1])};
}

std::pair<AsyncSocket, UniqueFd> ConformanceTest::socketAndPeer() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  return {AsyncSocket::adopt(proactor(), fds[0]), UniqueFd(fds[1])};
}

bool ConformanceTest::stopRunThreads(std::chrono::milliseconds limit) {
  api([&] { proactor().stop(); });
  return eventually([&] { return runThreads_->inRun() == 0; }, limit);
}

void ConformanceTest::shutdownProactor() {
  if (shutDown_) return;
  shutDown_ = true;
  const bool returned = stopRunThreads();
  EXPECT_TRUE(returned) << "run() did not return within " << kWait.count() << " ms of stop()";
  if (returned) runThreads_->finish();
  proactor_->shutdown();  // also makes a run() that ignored stop() return
  runThreads_->finish();
}

}  // namespace nioxx::conformance
