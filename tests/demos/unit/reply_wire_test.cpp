// hello_reply_wire.proto must stay wire-identical to hello.HelloReply: clients parse the server's
// replies with hello.proto only.
#include <gtest/gtest.h>

#include <string>

#include "hello.pb.h"
#include "hello_reply_wire.pb.h"

namespace {

TEST(ReplyWireTest, ServerEncodingParsesAsHelloReply) {
  hello::wire::HelloReply wire;
  wire.set_greeting("Hello, Zoë!");
  wire.set_seq(0xFFFFFFFFFFFFULL);
  hello::HelloReply reply;
  ASSERT_TRUE(reply.ParseFromString(wire.SerializeAsString()));
  EXPECT_EQ(reply.greeting(), "Hello, Zoë!");
  EXPECT_EQ(reply.seq(), 0xFFFFFFFFFFFFULL);
  EXPECT_TRUE(reply.error().empty());
}

TEST(ReplyWireTest, SameBytesAsHelloReply) {
  std::string greeting = "Hello, ";
  greeting.append(300, 'x').append("!");  // a two-byte length
  hello::HelloReply reply;
  reply.set_greeting(greeting);
  reply.set_seq(7);
  hello::wire::HelloReply wire;
  wire.set_greeting(reply.greeting());
  wire.set_seq(reply.seq());
  EXPECT_EQ(wire.SerializeAsString(), reply.SerializeAsString());
}

}  // namespace
