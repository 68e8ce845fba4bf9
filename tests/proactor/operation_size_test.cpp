// What an idle connection's read costs (issue 12: at most 1 KiB of server memory per idle
// connection at 10,000 connections). Operations come from per-thread size classes of 64 bytes
// (operation.cpp), so the read the server glues keep waiting (an enum ACT, a handler holding the
// connection's shared_ptr) must stay within 256 bytes: a field added to Operation that pushes it
// past that costs every idle connection 64 bytes more. Sizes, not timing: deterministic.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "nioxx/proactor/detail/typed_operation.h"

namespace nioxx {
namespace {

enum class ReadInto : std::uint8_t { pool, session };

TEST(OperationSize, TheGluesWaitingReadFitsIn256Bytes) {
  auto connection = std::make_shared<int>(0);
  auto handler = [connection](IoResult&, ReadInto) {};
  using Read = detail::TypedOperation<IoResult, ReadInto, decltype(handler)>;
  EXPECT_LE(sizeof(Read), 256u) << "Operation is " << sizeof(Operation) << " bytes";
}

// The small fields live in the tail padding of the dispatcher's node, not in padding of their own.
TEST(OperationSize, FlagsShareTheDispatchNodesPadding) {
  EXPECT_LE(sizeof(Operation), sizeof(detail::DispatchNode) + 208u);
}

}  // namespace
}  // namespace nioxx
