#include "nioxx/proactor/proactor.h"

#include <stdexcept>

#include "detail/proactor_core.h"
#include "nioxx/proactor/shutdown_error.h"
#include "nioxx/proactor/spi/async_operation_processor.h"
#include "nioxx/proactor/spi/provided_buffers.h"

namespace nioxx {

Proactor::Proactor(std::unique_ptr<AsyncOperationProcessor> processor, ProactorOptions options) {
  if (!processor) {
    throw std::invalid_argument(
        "nioxx: Proactor needs an AsyncOperationProcessor (e.g. nioxx::EmulatedProcessor from "
        "nioxx/bridge, or use makeEmulatedProactor())");
  }
  core_ = std::make_shared<detail::ProactorCore>(std::move(processor), options);
  core_->start();
}

Proactor::~Proactor() {
  if (core_) core_->shutdown();
}

Proactor::Proactor(Proactor&& other) noexcept = default;

void Proactor::run() {
  core_->run();
}
std::size_t Proactor::runOnce(std::chrono::nanoseconds timeout) {
  return core_->runOnce(timeout);
}
void Proactor::stop() {
  core_->stop();
}
void Proactor::restart() {
  core_->restart();
}
bool Proactor::stopped() const noexcept {
  return core_->stopped();
}
void Proactor::shutdown() {
  core_->shutdown();
}
bool Proactor::stepPool() {
  return core_->stepPool();
}

std::uint64_t Proactor::startTimer(Operation* op, std::chrono::nanoseconds delay) {
  op->timeout = delay < std::chrono::nanoseconds::zero() ? std::chrono::nanoseconds::zero() : delay;
  const std::uint64_t id = op->id();
  detail::initiate(*core_, op);
  return id;
}

void Proactor::cancelTimer(std::uint64_t id) {
  core_->cancelTimer(id);
}

BufferGroup Proactor::provideBuffers(BufferGroup::Options options) {
  if (core_->isShuttingDown()) {
    throw ShutdownError("nioxx: provideBuffers on a Proactor that is shutting down or shut down");
  }
  const std::uint32_t id = core_->nextBufferGroupId();
  if (id > UINT16_MAX) {
    throw std::length_error(
        "nioxx: provideBuffers: at most 65,536 buffer groups per Proactor; make a few large "
        "groups and share them between sockets");
  }
  auto group = std::make_shared<ProvidedBuffers>(core_.get(), static_cast<std::uint16_t>(id),
                                                 engineThreads(), options.bufferSize,
                                                 options.buffersPerThread);
  core_->processor().addBufferGroup(group);
  return BufferGroup(std::move(group));
}

std::uint16_t BufferGroup::id() const noexcept {
  return group_ ? group_->groupId() : 0;
}
std::size_t BufferGroup::bufferSize() const noexcept {
  return group_ ? group_->bufferSize() : 0;
}
std::size_t BufferGroup::buffersPerThread() const noexcept {
  return group_ ? group_->buffersPerThread() : 0;
}
std::size_t BufferGroup::outstanding() const noexcept {
  return group_ ? group_->outstanding() : 0;
}

std::size_t Proactor::engineThreads() const noexcept {
  return core_->processor().threads();
}

DispatchStrategy Proactor::strategy() const noexcept {
  return core_->options().strategy;
}
AsyncOperationProcessor& Proactor::processor() noexcept {
  return core_->processor();
}
const ProactorOptions& Proactor::options() const noexcept {
  return core_->options();
}

}  // namespace nioxx
