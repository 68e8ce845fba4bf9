// AsyncFile operations: a file is always "ready", so its operations skip the loops and run on a
// small file pool, one at a time per file and in order (FileState::ops is the file's serial
// executor), with blocking pread/pwrite.
#include "detail/perform.h"
#include "detail/processor_impl.h"

namespace nioxx::bridge_detail {

void ProcessorImpl::submitFile(Operation* op) noexcept {
  auto* fs = static_cast<FileState*>(op->channel()->processorState);
  const auto added = fs->ops.add([op](OpQueue& q) noexcept { q.push(op); });
  sink_->notify(*op, OpPhase::waiting);
  if (added != decltype(fs->ops)::Added::scheduled) return;
  std::call_once(fileStarted_, [this] {
    try {
      filePool_->start();
    } catch (const std::exception&) {
      // Stopped by a racing shutdown(): submit() below fails and runFile aborts inline.
    }
  });
  fs->channel->addRef();  // keeps the FileState alive while a worker drains it
  if (!filePool_->submit([this, fs] { runFile(*fs); })) runFile(*fs);
}

// Takes one operation at a time, so those still queued can be cancelled (cancelFileOp).
void ProcessorImpl::runFile(FileState& fs) noexcept {
  AsyncChannel* channel = fs.channel;
  Operation* op = nullptr;
  while (fs.ops.take([&op](OpQueue& q) noexcept { op = q.pop(); })) {
    if (shuttingDown_.load(std::memory_order_acquire)) {
      abortNow(op);
      continue;
    }
    if (!op->error) {  // rejections are not performed
      sink_->notify(*op, OpPhase::performing);
      performFileOp(channel->fd(), *op);
    }
    if (op->tryTransition(OpState::pending, OpState::completed)) sink_->complete(op);
  }
  channel->release();
}

void ProcessorImpl::cancelFileOp(FileState& fs, std::uint64_t id) noexcept {
  Operation* op = fs.ops.withLock([id](OpQueue& q) noexcept {
    return q.removeFirst([id](Operation& o) { return o.id() == id; });
  });
  if (op != nullptr) abortNow(op);
}

}  // namespace nioxx::bridge_detail
