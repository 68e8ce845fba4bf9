// AsyncSocket::read(BufferPool&): the buffer is taken from the pool only when data arrives, so a
// socket waiting for input holds none; the bytes and the ACT come back as with any read.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "nioxx/core/buffer_pool.h"
#include "proactor_fixture.h"

namespace nioxx::test {
namespace {

class PooledReadTest : public ProactorTest {};

// Each thread that performs pooled reads keeps one chunk staged (reactor threads, I/O workers, and
// in driven mode the run() threads and the initiating test thread).
constexpr std::size_t kMaxStaged = 6;

// The staged chunks go back when their threads end: after shutdown only the test thread's
// (driven mode lets the initiating thread try the read) can remain.
TEST_P(PooledReadTest, StagedChunksReturnWhenTheThreadsEnd) {
  BufferPool pool({.chunkSize = 256, .maxCached = 8});
  {
    auto [client, server] = connectedPair();
    std::promise<void> got;
    server.read(pool, [&got](IoResult&) { got.set_value(); });
    ASSERT_TRUE(client.writeAll(bufferOf("x"), use_future).get().success());
    ASSERT_EQ(got.get_future().wait_for(kWait), std::future_status::ready);
  }
  stopRunners();
  proactor_->shutdown();
  proactor_.reset();
  EXPECT_LE(pool.outstanding(), 1u);
}

TEST_P(PooledReadTest, WaitingReadHoldsNoBufferAndDeliversTheBytes) {
  BufferPool pool({.chunkSize = 4096, .maxCached = 4});
  auto [client, server] = connectedPair();
  std::promise<std::pair<std::string, int>> got;
  server.read(pool, 7, [&got](IoResult& r, int& act) {
    ASSERT_TRUE(r.success()) << r.error().message();
    EXPECT_EQ(r.bytesTransferred(), r.buffer().position());
    got.set_value(
        {std::string(reinterpret_cast<const char*>(r.buffer().array()), r.bytesTransferred()),
         act});
  });
  // Waiting reads hold no chunk: however many sockets wait, only the chunks staged by the
  // threads that performed I/O (at most one each) are out of the pool.
  std::vector<std::pair<AsyncSocket, AsyncSocket>> idle;
  std::atomic<int> idleDone{0};
  for (int i = 0; i < 16; ++i) {
    idle.push_back(connectedPair());
    idle.back().second.read(pool, [&idleDone](IoResult&) { idleDone.fetch_add(1); });
  }
  std::this_thread::sleep_for(20ms);
  EXPECT_LE(pool.outstanding(), kMaxStaged);

  ASSERT_TRUE(client.writeAll(bufferOf("pooled bytes"), use_future).get().success());
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  const auto [bytes, act] = f.get();
  EXPECT_EQ(bytes, "pooled bytes");
  EXPECT_EQ(act, 7);
  // The handler dropped the result: nothing but staged chunks is out.
  EXPECT_TRUE(eventually([&] { return pool.outstanding() <= kMaxStaged; }));
  for (auto& [c, srv] : idle)
    srv.close();
  EXPECT_TRUE(eventually([&] { return idleDone.load() == 16; }));
}

TEST_P(PooledReadTest, LargeReadFillsAChunk) {
  BufferPool pool({.chunkSize = 1024, .maxCached = 4});
  auto [client, server] = connectedPair();
  const std::string big(3000, 'x');
  ASSERT_TRUE(client.writeAll(bufferOf(big), use_future).get().success());
  std::promise<std::size_t> got;
  server.read(pool, [&got](IoResult& r) {
    EXPECT_TRUE(r.success()) << r.error().message();
    EXPECT_LE(r.bytesTransferred(), 1024u);  // at most one chunk per read
    got.set_value(r.bytesTransferred());
  });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_GT(f.get(), 0u);
}

TEST_P(PooledReadTest, CloseAbortsAWaitingReadWithoutLeakingAChunk) {
  BufferPool pool({.chunkSize = 512, .maxCached = 2});
  auto [client, server] = connectedPair();
  std::promise<std::error_code> got;
  server.read(pool, [&got](IoResult& r) { got.set_value(r.error()); });
  server.close();
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get(), Error::operation_aborted);
  EXPECT_LE(pool.outstanding(), kMaxStaged);
}

TEST_P(PooledReadTest, PeerCloseCompletesWithEndOfStream) {
  BufferPool pool({.chunkSize = 512, .maxCached = 2});
  auto [client, server] = connectedPair();
  std::promise<std::error_code> got;
  server.read(pool, [&got](IoResult& r) { got.set_value(r.error()); });
  client.close();
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get(), Error::end_of_stream);
  EXPECT_TRUE(eventually([&] { return pool.outstanding() <= kMaxStaged; }));
}

INSTANTIATE_TEST_SUITE_P(Strategies, PooledReadTest, allStrategies(), paramName);

}  // namespace
}  // namespace nioxx::test
