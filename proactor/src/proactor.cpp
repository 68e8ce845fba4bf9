#include "nioxx/proactor/proactor.h"

#include <stdexcept>

#include "detail/proactor_core.h"

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

std::uint64_t Proactor::startTimer(Operation* op, std::chrono::nanoseconds delay) {
  op->timeout = delay < std::chrono::nanoseconds::zero() ? std::chrono::nanoseconds::zero() : delay;
  const std::uint64_t id = op->id();
  detail::initiate(*core_, op);
  return id;
}

void Proactor::cancelTimer(std::uint64_t id) {
  core_->cancelTimer(id);
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
