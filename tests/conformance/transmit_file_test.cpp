// transmitFile (the paper's TransmitFile): the kernel sends a file's bytes (sendfile, splice).
// It is a write: ordered with the socket's other writes, whole (all `count` bytes or an error),
// aborted by timeout, cancel(id), cancel() and close() like any write, completed exactly once;
// it takes a place in the write queue but no bytes of the write buffer (they are not in memory).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "conformance_fixture.h"
#include "nioxx/proactor/async_file.h"

namespace nioxx::conformance {
namespace {

constexpr std::size_t KiB = 1024;

char patternAt(std::size_t i) {
  return static_cast<char>('a' + (i * 7 + i / 4093) % 26);
}

std::string pattern(std::size_t offset, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = patternAt(offset + i);
  return s;
}

// A temporary file of `bytes` pattern bytes, removed at once (the descriptor keeps it), opened
// as an AsyncFile of the test's Proactor.
AsyncFile patternFile(Proactor& proactor, std::size_t bytes) {
  char path[] = "/tmp/nioxx-transmit-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  const std::string content = pattern(0, bytes);
  bool written = true;
  for (std::size_t done = 0; written && done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    written = n > 0;
    if (written) done += static_cast<std::size_t>(n);
  }
  std::error_code ec;
  AsyncFile file = AsyncFile::open(proactor, path, O_RDONLY, ec);
  ::unlink(path);
  ::close(fd);
  if (!written || ec) throw std::runtime_error("cannot make the test file: " + ec.message());
  return file;
}

// What a socket's completions were, in the order their handlers ran.
struct Log {
  std::mutex mutex;
  std::vector<std::string> events;
  std::atomic<int> calls{0};
  std::atomic<int> insideApi{0};
  void add(std::string event) {
    if (insideApiCall()) insideApi.fetch_add(1);
    std::lock_guard lock(mutex);
    events.push_back(std::move(event));
    calls.fetch_add(1);
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }
};

// A handler that logs "name:bytes" or "name:bytes:error".
auto logAs(std::shared_ptr<Log> log, std::string name) {
  return [log, name](IoResult& r) {
    std::string e = name + ":" + std::to_string(r.bytesTransferred());
    if (!r.success()) e += ":" + r.error().message();
    log->add(std::move(e));
  };
}

TEST_P(ConformanceTest, TransmitFileSendsTheWholeFileARangeAndUpToTheEnd) {
  auto [socket, peer] = socketAndPeer();
  constexpr std::size_t kBytes = 1 << 20;  // beyond the socket buffer: partial sends, waits
  AsyncFile file = patternFile(proactor(), kBytes);
  auto whole = api([&, &s = socket] { return s.transmitFile(file, 0, kBytes, use_future); });
  file.close();  // the operation holds its own duplicate of the descriptor
  EXPECT_TRUE(readPeer(peer.get(), kBytes) == pattern(0, kBytes)) << "the file's bytes differ";
  IoResult w = awaitResult(whole, "transmitFile(1 MiB)");
  ASSERT_TRUE(w.success()) << w.error().message();
  EXPECT_EQ(w.bytesTransferred(), kBytes);

  AsyncFile again = patternFile(proactor(), kBytes);
  auto range = api([&, &s = socket] { return s.transmitFile(again, 4093, 70000, use_future); });
  EXPECT_TRUE(readPeer(peer.get(), 70000) == pattern(4093, 70000)) << "the range's bytes differ";
  IoResult r = awaitResult(range, "transmitFile(offset 4093, 70000 bytes)");
  ASSERT_TRUE(r.success()) << r.error().message();
  EXPECT_EQ(r.bytesTransferred(), 70000u);

  auto tail = api([&, &s = socket] {
    return s.transmitFile(again, kBytes - 100, AsyncSocket::kToEndOfFile, use_future);
  });
  EXPECT_EQ(readPeer(peer.get(), 100), pattern(kBytes - 100, 100));
  IoResult t = awaitResult(tail, "transmitFile(to the end)");
  ASSERT_TRUE(t.success()) << t.error().message();
  EXPECT_EQ(t.bytesTransferred(), 100u);
}

TEST_P(ConformanceTest, TransmitFileShorterThanCountEndsWithEndOfStreamAfterItsBytes) {
  auto [socket, peer] = socketAndPeer();
  AsyncFile file = patternFile(proactor(), 10 * KiB);
  auto beyond =
      api([&, &s = socket] { return s.transmitFile(file, 9 * KiB, 4 * KiB, use_future); });
  IoResult r = awaitResult(beyond, "transmitFile past the end");
  EXPECT_EQ(r.error(), Error::end_of_stream) << r.error().message();
  EXPECT_EQ(r.bytesTransferred(), KiB);
  EXPECT_EQ(readPeer(peer.get(), KiB), pattern(9 * KiB, KiB));

  auto zero = api([&, &s = socket] { return s.transmitFile(file, 0, 0, use_future); });
  IoResult z = awaitResult(zero, "transmitFile(count 0)");
  EXPECT_TRUE(z.success()) << z.error().message();
  EXPECT_EQ(z.bytesTransferred(), 0u);

  auto past = api([&, &s = socket] { return s.transmitFile(file, 20 * KiB, 1, use_future); });
  IoResult p = awaitResult(past, "transmitFile from beyond the end");
  EXPECT_EQ(p.error(), Error::end_of_stream) << p.error().message();
  EXPECT_EQ(p.bytesTransferred(), 0u);

  // A descriptor that is no file is an error of the operation (in order), not a crash.
  auto log = std::make_shared<Log>();
  api([&, &s = socket] {
    s.transmitFile(-1, 0, 10, logAs(log, "bad"));
    s.writeAll(bufferOf("x"), logAs(log, "x"));
  });
  ASSERT_TRUE(eventually([&] { return log->calls.load() == 2; }));
  const std::vector<std::string> expected = {
      "bad:0:" + std::make_error_code(std::errc::bad_file_descriptor).message(), "x:1"};
  EXPECT_EQ(log->snapshot(), expected);
  EXPECT_EQ(readPeer(peer.get(), 1), "x");
}

TEST_P(ConformanceTest, TransmitFileIsOrderedWithTheWritesBeforeAndAfterIt) {
  auto [socket, peer] = socketAndPeer();
  constexpr std::size_t kBytes = 256 * KiB;
  AsyncFile file = patternFile(proactor(), kBytes);
  auto log = std::make_shared<Log>();
  api([&, &s = socket] {
    s.writeAll(bufferOf(std::string(100 * KiB, '<')), logAs(log, "before"));
    s.transmitFile(file, 0, kBytes, logAs(log, "file"));
    s.writeAll(bufferOf(">>"), logAs(log, "after"));
  });
  const std::string got = readPeer(peer.get(), 100 * KiB + kBytes + 2);
  ASSERT_EQ(got.size(), 100 * KiB + kBytes + 2);
  EXPECT_EQ(got.substr(0, 100 * KiB), std::string(100 * KiB, '<'));
  EXPECT_TRUE(got.substr(100 * KiB, kBytes) == pattern(0, kBytes)) << "the file's bytes differ";
  EXPECT_EQ(got.substr(100 * KiB + kBytes), ">>");
  ASSERT_TRUE(eventually([&] { return log->calls.load() == 3; }));
  std::this_thread::sleep_for(20ms);  // a second completion would show up by now
  const std::vector<std::string> expected = {"before:102400", "file:262144", "after:2"};
  EXPECT_EQ(log->snapshot(), expected);
  EXPECT_EQ(log->insideApi.load(), 0) << "a handler ran inside an API call";
}

// The peer reads nothing: the transmission waits for writability with most of the file unsent.
TEST_P(ConformanceTest, TransmitFileWaitingForAStuckPeerIsAbortedByTimeoutCancelAndClose) {
  constexpr std::size_t kBytes = 4 << 20;
  auto [socket, peer] = socketAndPeer();
  AsyncFile file = patternFile(proactor(), kBytes);
  auto log = std::make_shared<Log>();
  auto timed = api([&, &s = socket] { return s.transmitFile(file, 0, kBytes, use_future, 30ms); });
  IoResult t = awaitResult(timed, "transmitFile with a 30 ms timeout");
  EXPECT_TRUE(t.timedOut()) << t.error().message();
  EXPECT_LT(t.bytesTransferred(), kBytes);

  const OperationId id =
      api([&, &s = socket] { return s.transmitFile(file, 0, kBytes, logAs(log, "by-id")); });
  api([&, &s = socket] { s.transmitFile(file, 0, kBytes, logAs(log, "by-channel")); });
  std::this_thread::sleep_for(5ms);  // let the first one start and wait
  api([&, &s = socket] { s.cancel(id); });
  ASSERT_TRUE(eventually([&] { return log->calls.load() == 1; }));
  api([&, &s = socket] { s.cancel(); });
  ASSERT_TRUE(eventually([&] { return log->calls.load() == 2; }));

  api([&, &s = socket] { s.transmitFile(file, 0, kBytes, logAs(log, "by-close")); });
  std::this_thread::sleep_for(5ms);
  api([&, &s = socket] { s.close(); });
  ASSERT_TRUE(eventually([&] { return log->calls.load() == 3; }));
  api([&, &s = socket] { s.transmitFile(file, 0, kBytes, logAs(log, "closed")); });
  ASSERT_TRUE(eventually([&] { return log->calls.load() == 4; }));
  std::this_thread::sleep_for(20ms);  // a second completion would show up by now
  const std::vector<std::string> events = log->snapshot();
  ASSERT_EQ(events.size(), 4u);
  const std::string aborted = make_error_code(Error::operation_aborted).message();
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(events[i].find(aborted), std::string::npos) << events[i];
  }
  EXPECT_EQ(events[0].rfind("by-id:", 0), 0u) << events[0];
  EXPECT_EQ(events[1].rfind("by-channel:", 0), 0u) << events[1];
  EXPECT_EQ(events[2].rfind("by-close:", 0), 0u) << events[2];
  EXPECT_EQ(events[3], "closed:0:" + make_error_code(Error::closed).message());
  EXPECT_EQ(log->insideApi.load(), 0) << "a handler ran inside an API call";
}

// Backpressure: the transmission holds a write-queue place, no write-buffer bytes; the writes
// behind it are counted and limited as usual and complete after it, in order.
TEST_P(ConformanceTest, TransmitFileTakesAQueuePlaceButNoWriteBufferBytes) {
  constexpr std::size_t kBytes = 2 << 20;
  auto [socket, peer] = socketAndPeer();
  AsyncFile file = patternFile(proactor(), kBytes);
  auto log = std::make_shared<Log>();
  api([&, &s = socket] {
    s.setWriteBufferWatermarks(4 * KiB, 8 * KiB);
    s.setWriteBufferLimit(16 * KiB);
    s.transmitFile(file, 0, kBytes, logAs(log, "file"));
  });
  EXPECT_EQ(socket.pendingWriteBytes(), 0u);
  EXPECT_EQ(socket.pendingWrites(), 1u);
  EXPECT_TRUE(socket.isWritable()) << "file bytes are not buffered memory";
  api([&, &s = socket] {
    s.writeAll(bufferOf(std::string(12 * KiB, 'w')), logAs(log, "write"));
    s.writeAll(bufferOf(std::string(8 * KiB, 'x')), logAs(log, "refused"));
  });
  EXPECT_EQ(socket.pendingWriteBytes(), 12 * KiB);
  EXPECT_FALSE(socket.isWritable());
  const std::string got = readPeer(peer.get(), kBytes + 12 * KiB);
  ASSERT_EQ(got.size(), kBytes + 12 * KiB);
  EXPECT_TRUE(got.substr(0, kBytes) == pattern(0, kBytes)) << "the file's bytes differ";
  EXPECT_EQ(got.substr(kBytes), std::string(12 * KiB, 'w'));
  ASSERT_TRUE(eventually([&] { return log->calls.load() == 3; }));
  const std::vector<std::string> expected = {
      "file:" + std::to_string(kBytes), "write:12288",
      "refused:0:" + make_error_code(Error::queue_full).message()};
  EXPECT_EQ(log->snapshot(), expected);
  EXPECT_TRUE(eventually([&] { return socket.isWritable(); }));
}

}  // namespace
}  // namespace nioxx::conformance
