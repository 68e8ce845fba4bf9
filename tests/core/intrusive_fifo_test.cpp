// IntrusiveFifo: FIFO order through a member link, removal from any position, moving a subset
// in one pass, and swapping whole queues.
#include "nioxx/core/intrusive_fifo.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace nioxx {
namespace {

struct Base {
  Base* link = nullptr;
};
struct Node : Base {
  explicit Node(int v) : value(v) {}
  int value;
};
using Fifo = IntrusiveFifo<Node, &Base::link>;  // linked through a base class member

std::vector<int> drain(Fifo& q) {
  std::vector<int> values;
  while (Node* n = q.pop())
    values.push_back(n->value);
  return values;
}

TEST(IntrusiveFifoTest, PopsInPushOrder) {
  Node a(1), b(2), c(3);
  Fifo q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop(), nullptr);
  q.push(&a);
  q.push(&b);
  q.push(&c);
  EXPECT_EQ(q.front(), &a);
  EXPECT_EQ(drain(q), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(a.link, nullptr);  // popped nodes are unlinked
}

TEST(IntrusiveFifoTest, RemoveFirstUnlinksFromAnyPosition) {
  Node a(1), b(2), c(3);
  Fifo q;
  q.push(&a);
  q.push(&b);
  q.push(&c);
  EXPECT_EQ(q.removeFirst([](Node& n) { return n.value == 2; }), &b);
  EXPECT_EQ(q.removeFirst([](Node& n) { return n.value == 3; }), &c);  // the tail
  EXPECT_EQ(q.removeFirst([](Node& n) { return n.value == 9; }), nullptr);
  q.push(&c);  // the tail was fixed up
  EXPECT_EQ(drain(q), (std::vector<int>{1, 3}));
}

TEST(IntrusiveFifoTest, MoveIfKeepsBothOrders) {
  std::vector<Node> nodes;
  for (int i = 0; i < 6; ++i)
    nodes.emplace_back(i);
  Fifo q;
  for (Node& n : nodes)
    q.push(&n);
  Fifo odd;
  int calls = 0;
  q.moveIf(
      [&calls](Node& n) {
        ++calls;
        return n.value % 2 == 1;
      },
      odd);
  EXPECT_EQ(calls, 6);
  q.push(odd.pop());  // both tails are still right after the moves
  EXPECT_EQ(drain(q), (std::vector<int>{0, 2, 4, 1}));
  EXPECT_EQ(drain(odd), (std::vector<int>{3, 5}));
}

TEST(IntrusiveFifoTest, SwapMovesAWholeQueue) {
  Node a(1), b(2);
  Fifo q;
  Fifo other;
  q.push(&a);
  q.push(&b);
  std::swap(q, other);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(drain(other), (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace nioxx
