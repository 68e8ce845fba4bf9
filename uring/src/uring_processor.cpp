#include "nioxx/uring/uring_processor.h"

#include "detail/engine.h"

namespace nioxx {

UringProcessor::UringProcessor(Options options)
    : impl_(std::make_unique<uring_detail::Engine>(options)) {}
UringProcessor::~UringProcessor() = default;

void UringProcessor::start(CompletionSink& sink, const ProcessorConfig& config) {
  impl_->start(sink, config);
}
void UringProcessor::attach(AsyncChannel& channel) {
  impl_->attach(channel);
}
void UringProcessor::detach(AsyncChannel& channel) noexcept {
  impl_->detach(channel);
}
void UringProcessor::addBufferGroup(const std::shared_ptr<ProvidedBuffers>& group) {
  impl_->addBufferGroup(group);
}
void UringProcessor::submit(Operation* op) noexcept {
  impl_->submit(op);
}
void UringProcessor::cancel(AsyncChannel& channel) noexcept {
  impl_->cancel(channel, false);
}
void UringProcessor::cancelOperation(AsyncChannel& channel, std::uint64_t opId) noexcept {
  impl_->cancelOperation(channel, opId);
}
void UringProcessor::close(AsyncChannel& channel) noexcept {
  impl_->cancel(channel, true);
}
void UringProcessor::cancelTimer(std::uint64_t timerId) noexcept {
  impl_->cancelTimer(timerId);
}
void UringProcessor::shutdown() noexcept {
  impl_->shutdown();
}
bool UringProcessor::execute(detail::DispatchNode* node) noexcept {
  return impl_->execute(node);
}
bool UringProcessor::executeOnChannel(AsyncChannel& channel, detail::DispatchNode* node) noexcept {
  return impl_->executeOnChannel(channel, node);
}
std::size_t UringProcessor::threads() const noexcept {
  return impl_->threads();
}
const UringProcessor::Options& UringProcessor::options() const noexcept {
  return impl_->options();
}

Proactor makeUringProactor(const UringProactorOptions& options) {
  return Proactor(std::make_unique<UringProcessor>(options.processor), options.proactor);
}

Proactor makeUringProactor(DispatchStrategy strategy, std::size_t threads) {
  UringProactorOptions o;
  o.processor.threads = threads;
  o.proactor.strategy = strategy;
  return makeUringProactor(o);
}

}  // namespace nioxx
