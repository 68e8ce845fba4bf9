// SelectionKey: ops bits, type-safe attachments, validity.
#include "nioxx/reactor/selection_key.h"

#include <gtest/gtest.h>

#include <thread>

#include "nioxx/reactor/pipe.h"
#include "nioxx/reactor/selector.h"

namespace nioxx {
namespace {

TEST(SelectionKeyTest, OpsHaveJavaValues) {
  EXPECT_EQ(SelectionKey::OP_READ, 1);
  EXPECT_EQ(SelectionKey::OP_WRITE, 4);
  EXPECT_EQ(SelectionKey::OP_CONNECT, 8);
  EXPECT_EQ(SelectionKey::OP_ACCEPT, 16);
}

TEST(SelectionKeyTest, AttachmentIsTypeSafe) {
  Selector selector;
  Pipe pipe = Pipe::open();
  int value = 42;
  SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ, &value);
  ASSERT_NE(key.attachment<int>(), nullptr);
  EXPECT_EQ(*key.attachment<int>(), 42);
  EXPECT_EQ(key.attachment<long>(), nullptr);  // wrong type: nullptr, never a bad cast
  key.attach(nullptr);
  EXPECT_FALSE(key.hasAttachment());
  EXPECT_EQ(key.attachment<int>(), nullptr);
}

TEST(SelectionKeyTest, InterestOpsHelpersSetAndClearBits) {
  Selector selector;
  auto pipe = Pipe::open();
  SelectionKey& key = pipe.sink().registerWith(selector, 0);
  key.interestOpsOr(SelectionKey::OP_WRITE);
  EXPECT_EQ(key.interestOps(), SelectionKey::OP_WRITE);
  key.interestOpsAnd(~SelectionKey::OP_WRITE);
  EXPECT_EQ(key.interestOps(), 0);
}

TEST(SelectionKeyTest, CancelIsIdempotentAndInterestChangesOnCancelledKeyAreIgnored) {
  Selector selector;
  auto pipe = Pipe::open();
  SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  EXPECT_TRUE(key.isValid());
  key.cancel();
  key.cancel();
  EXPECT_FALSE(key.isValid());
  key.interestOps(0);  // no-op, no throw
  EXPECT_EQ(key.interestOps(), SelectionKey::OP_READ);
  selector.selectNow();
}

TEST(SelectionKeyTest, CancelFromAnotherThreadTakesEffect) {
  Selector selector;
  auto pipe = Pipe::open();
  SelectionKey& key = pipe.source().registerWith(selector, SelectionKey::OP_READ);
  char c = 'x';
  ASSERT_EQ(pipe.sink().writeSome(&c, 1), 1);
  EXPECT_EQ(selector.selectNow(), 1);  // binds the selecting thread
  selector.selectedKeys().clear();
  std::thread canceller([&] { key.cancel(); });
  canceller.join();
  EXPECT_EQ(selector.selectNow(), 0);
  EXPECT_EQ(selector.keyCount(), 0u);
}

}  // namespace
}  // namespace nioxx
