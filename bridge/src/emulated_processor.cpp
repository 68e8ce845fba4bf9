#include "nioxx/bridge/emulated_processor.h"

#include "detail/processor_impl.h"

namespace nioxx {

const char* toString(IoMode mode) noexcept {
  return mode == IoMode::inline_io ? "inline_io" : "worker_pool";
}

EmulatedProcessor::EmulatedProcessor(Options options)
    : impl_(std::make_unique<bridge_detail::ProcessorImpl>(options)) {}
EmulatedProcessor::~EmulatedProcessor() = default;

void EmulatedProcessor::start(CompletionSink& sink, const ProcessorConfig& config) {
  impl_->start(sink, config);
}
void EmulatedProcessor::attach(AsyncChannel& channel) {
  impl_->attach(channel);
}
void EmulatedProcessor::detach(AsyncChannel& channel) noexcept {
  impl_->detach(channel);
}
void EmulatedProcessor::addBufferGroup(const std::shared_ptr<ProvidedBuffers>& group) {
  impl_->addBufferGroup(group);
}
void EmulatedProcessor::submit(Operation* op) noexcept {
  impl_->submit(op);
}
void EmulatedProcessor::cancel(AsyncChannel& channel) noexcept {
  impl_->cancel(channel, false);
}
void EmulatedProcessor::cancelOperation(AsyncChannel& channel, std::uint64_t opId) noexcept {
  impl_->cancelOperation(channel, opId);
}
void EmulatedProcessor::close(AsyncChannel& channel) noexcept {
  impl_->cancel(channel, true);
}
void EmulatedProcessor::cancelTimer(std::uint64_t timerId) noexcept {
  impl_->cancelTimer(timerId);
}
void EmulatedProcessor::shutdown() noexcept {
  impl_->shutdown();
}
bool EmulatedProcessor::execute(detail::DispatchNode* node) noexcept {
  return impl_->execute(node);
}
bool EmulatedProcessor::executeOnChannel(AsyncChannel& channel,
                                         detail::DispatchNode* node) noexcept {
  return impl_->executeOnChannel(channel, node);
}
bool EmulatedProcessor::drive(std::chrono::nanoseconds timeout) noexcept {
  return impl_->drive(timeout);
}
void EmulatedProcessor::wakeup() noexcept {
  impl_->wakeup();
}
bool EmulatedProcessor::step(std::size_t loop, std::chrono::nanoseconds timeout) noexcept {
  return impl_->step(loop, timeout);
}
std::size_t EmulatedProcessor::threads() const noexcept {
  return impl_->threads();
}
bool EmulatedProcessor::channelAffinity() const noexcept {
  return impl_->channelAffinity();
}
const EmulatedProcessor::Options& EmulatedProcessor::options() const noexcept {
  return impl_->options();
}

Proactor makeEmulatedProactor(const EmulatedProactorOptions& options) {
  return Proactor(std::make_unique<EmulatedProcessor>(options.processor), options.proactor);
}

Proactor makeEmulatedProactor(DispatchStrategy strategy, std::size_t reactorThreads) {
  EmulatedProactorOptions o;
  o.processor.reactorThreads = reactorThreads;
  o.proactor.strategy = strategy;
  return makeEmulatedProactor(o);
}

}  // namespace nioxx
