// Pipe: source/sink channels on pipe2, selectable like sockets.
#include "nioxx/reactor/pipe.h"

#include <gtest/gtest.h>

#include <chrono>

#include "nioxx/reactor/selector.h"
#include "nioxx_test/reactor_helpers.h"

namespace nioxx {
namespace {

using namespace std::chrono_literals;

TEST(PipeTest, SinkIsWritableAndSourceReadableAfterWrite) {
  Selector selector;
  Pipe pipe = Pipe::open();
  SelectionKey& sinkKey = pipe.sink().registerWith(selector, SelectionKey::OP_WRITE);
  SelectionKey& sourceKey = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  ASSERT_EQ(selector.select(10s), 1);
  EXPECT_TRUE(sinkKey.isWritable());
  ByteBuffer out = test::bufferOf("ping");
  std::error_code ec;
  EXPECT_EQ(pipe.sink().write(out, ec), 4);
  selector.selectedKeys().clear();
  sinkKey.interestOps(0);
  ASSERT_EQ(selector.select(10s), 1);
  EXPECT_TRUE(sourceKey.isReadable());
  ByteBuffer in = ByteBuffer::allocate(8);
  EXPECT_EQ(pipe.source().read(in, ec), 4);
  EXPECT_EQ(test::drainToString(in), "ping");
  EXPECT_EQ(pipe.source().read(in, ec), 0);  // empty: would block
}

TEST(PipeTest, ClosedSinkGivesEndOfStream) {
  Pipe pipe = Pipe::open();
  pipe.sink().close();
  ByteBuffer in = ByteBuffer::allocate(8);
  std::error_code ec;
  EXPECT_EQ(pipe.source().read(in, ec), -1);
  EXPECT_FALSE(ec);
}

TEST(PipeTest, ValidOpsMatchDirection) {
  Pipe pipe = Pipe::open();
  EXPECT_EQ(pipe.source().validOps(), SelectionKey::OP_READ);
  EXPECT_EQ(pipe.sink().validOps(), SelectionKey::OP_WRITE);
}

}  // namespace
}  // namespace nioxx
