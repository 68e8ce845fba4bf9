#include "nioxx/reactor/reactor_server.h"

#include <future>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "detail/reactor_connection.h"
#include "nioxx/core/error.h"
#include "nioxx/core/thread_pool.h"
#include "nioxx/reactor/reactor_group.h"

namespace nioxx {

struct ReactorServer::Impl {
  // One per reactor that accepts or serves: touched only on that reactor's loop thread.
  struct Slot {
    Reactor* reactor = nullptr;
    std::unordered_map<std::uint64_t, std::shared_ptr<detail::ReactorConnection>> connections;
    std::vector<std::unique_ptr<Acceptor>> acceptors;
  };

  Options options;
  HandlerFactory factory;
  std::unique_ptr<ReactorGroup> io;    // reactors serving connections
  std::unique_ptr<ReactorGroup> main;  // main_sub_reactors: the accepting reactor
  std::unique_ptr<ThreadPool> pool;    // worker_pool
  std::vector<Slot> slots;             // io reactors first, then main's
  std::atomic<std::size_t> connectionCount{0};
  std::atomic<std::uint64_t> nextId{1};
  std::atomic<std::size_t> roundRobin{0};
  std::atomic<bool> stopping{false};
  InetSocketAddress local;
  bool started = false;
  bool stopped = false;

  // Loop thread of slots[s].
  void adopt(std::size_t s, SocketChannel channel) {
    if (stopping.load(std::memory_order_acquire)) return;  // the channel closes here
    if (options.tcpNoDelay) {
      std::error_code ignored;
      channel.setTcpNoDelay(true, ignored);
    }
    const std::uint64_t id = nextId.fetch_add(1, std::memory_order_relaxed);
    Slot& slot = slots[s];
    auto connection = std::make_shared<detail::ReactorConnection>(
        *slot.reactor, std::move(channel), factory(), id,
        detail::ReactorConnection::Config{options.readBufferSize, options.maxInputBytes, pool.get(),
                                          options.writeBufferLowWatermark,
                                          options.writeBufferHighWatermark,
                                          options.writeBufferLimit, options.closeLinger},
        [this, s](std::uint64_t closedId) {
          if (slots[s].connections.erase(closedId) != 0) {
            connectionCount.fetch_sub(1, std::memory_order_acq_rel);
          }
        });
    slot.connections.emplace(id, connection);
    connectionCount.fetch_add(1, std::memory_order_acq_rel);
    connection->start();
  }

  Acceptor::Factory acceptInto(std::size_t s) {
    return [this, s](SocketChannel&& channel) { adopt(s, std::move(channel)); };
  }

  // Runs fn on slot's loop thread and waits for it.
  static void runAndWait(Reactor& reactor, const std::function<void()>& fn) {
    std::promise<void> done;
    reactor.post([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  void closeSlot(Slot& slot) {
    for (auto& acceptor : slot.acceptors)
      acceptor->close();
    std::vector<std::shared_ptr<detail::ReactorConnection>> all;
    all.reserve(slot.connections.size());
    for (auto& [id, connection] : slot.connections)
      all.push_back(connection);
    for (auto& connection : all)
      connection->closeNow(make_error_code(Error::operation_aborted));
  }
};

ReactorServer::ReactorServer(Options options, HandlerFactory factory)
    : impl_(std::make_unique<Impl>()) {
  if (!factory) throw std::invalid_argument("ReactorServer needs a handler factory");
  if (options.reactors == 0) options.reactors = 1;
  if (options.workers == 0) options.workers = 1;
  if (options.readBufferSize == 0) throw std::invalid_argument("readBufferSize must be > 0");
  if (options.writeBufferLowWatermark > options.writeBufferHighWatermark) {
    throw std::invalid_argument("writeBufferLowWatermark must not exceed writeBufferHighWatermark");
  }
  impl_->options = options;
  impl_->factory = std::move(factory);
}

ReactorServer::~ReactorServer() {
  stop();
}

void ReactorServer::start() {
  Impl& d = *impl_;
  if (d.started) throw std::logic_error("ReactorServer::start called twice");
  d.started = true;
  const Options& o = d.options;
  const bool multi =
      o.concurrency == Concurrency::main_sub_reactors || o.concurrency == Concurrency::reuse_port;
  d.io = std::make_unique<ReactorGroup>(multi ? o.reactors : 1, "nioxx-io");
  for (std::size_t i = 0; i < d.io->size(); ++i)
    d.slots.push_back({&d.io->at(i), {}, {}});

  switch (o.concurrency) {
    case Concurrency::worker_pool:
      d.pool = std::make_unique<ThreadPool>(ThreadPool::Options{o.workers, 65536, "nioxx-worker"});
      [[fallthrough]];
    case Concurrency::single_reactor:
      d.slots[0].acceptors.push_back(
          std::make_unique<Acceptor>(*d.slots[0].reactor, o.address, d.acceptInto(0), o.acceptor));
      d.local = d.slots[0].acceptors[0]->localAddress();
      break;
    case Concurrency::main_sub_reactors: {
      d.main = std::make_unique<ReactorGroup>(1, "nioxx-main");
      const std::size_t mainSlot = d.slots.size();
      d.slots.push_back({&d.main->at(0), {}, {}});
      auto handOff = [&d](SocketChannel&& channel) {
        const std::size_t target = d.roundRobin.fetch_add(1) % d.io->size();
        auto shared = std::make_shared<SocketChannel>(std::move(channel));
        d.slots[target].reactor->post(
            [&d, target, shared] { d.adopt(target, std::move(*shared)); });
      };
      d.slots[mainSlot].acceptors.push_back(
          std::make_unique<Acceptor>(*d.slots[mainSlot].reactor, o.address, handOff, o.acceptor));
      d.local = d.slots[mainSlot].acceptors[0]->localAddress();
      break;
    }
    case Concurrency::reuse_port: {
      Acceptor::Options ao = o.acceptor;
      ao.reusePort = true;
      InetSocketAddress address = o.address;
      for (std::size_t i = 0; i < d.io->size(); ++i) {
        d.slots[i].acceptors.push_back(
            std::make_unique<Acceptor>(*d.slots[i].reactor, address, d.acceptInto(i), ao));
        if (i == 0) address = d.slots[0].acceptors[0]->localAddress();  // same port for all
      }
      d.local = address;
      break;
    }
  }
  if (d.pool) d.pool->start();
  d.io->start();
  if (d.main) d.main->start();
}

void ReactorServer::stop() {
  Impl& d = *impl_;
  if (!d.started || d.stopped) return;
  d.stopped = true;
  d.stopping.store(true, std::memory_order_release);
  for (auto& slot : d.slots)
    Impl::runAndWait(*slot.reactor, [&d, &slot] { d.closeSlot(slot); });
  if (d.pool) d.pool->stop();  // delivers the queued onClose callbacks
  if (d.main) d.main->stop();
  d.io->stop();
  d.slots.clear();  // acceptors already closed; nothing left registered
}

InetSocketAddress ReactorServer::localAddress() const {
  return impl_->local;
}

std::size_t ReactorServer::connectionCount() const noexcept {
  return impl_->connectionCount.load(std::memory_order_acquire);
}

const ReactorServer::Options& ReactorServer::options() const noexcept {
  return impl_->options;
}

}  // namespace nioxx
