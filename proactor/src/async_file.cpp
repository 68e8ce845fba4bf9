#include "nioxx/proactor/async_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include "detail/proactor_core.h"
#include "nioxx/core/error.h"
#include "nioxx/proactor/proactor.h"

namespace nioxx {

AsyncFile AsyncFile::open(Proactor& proactor, const std::string& path, int flags,
                          std::error_code& ec, int mode) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) {
    ec = lastError();
    return {};
  }
  ec.clear();
  try {
    return AsyncFile(proactor.core()->newChannel(fd, ChannelKind::file));
  } catch (...) {
    ::close(fd);
    throw;
  }
}

AsyncChannel* AsyncFile::checked() const {
  if (!channel_) {
    throw std::logic_error(
        "nioxx: operation on an empty AsyncFile; open it with AsyncFile::open() and check the "
        "error_code");
  }
  return channel_.get();
}

std::int64_t AsyncFile::size() const {
  struct stat st {};
  if (!channel_ || ::fstat(channel_->fd(), &st) != 0) return -1;
  return st.st_size;
}

std::future<FileResult> AsyncFile::readAt(ByteBuffer dst, std::int64_t offset, UseFuture,
                                          bool whole) {
  auto [op, future] = detail::makeFutureOperation<FileResult>(OpKind::read_at, checked());
  op->buffer = std::move(dst);
  op->offset = offset;
  op->whole = whole;
  detail::initiate(op);
  return std::move(future);
}

std::future<FileResult> AsyncFile::writeAt(ByteBuffer src, std::int64_t offset, UseFuture,
                                           bool whole) {
  auto [op, future] = detail::makeFutureOperation<FileResult>(OpKind::write_at, checked());
  op->buffer = std::move(src);
  op->offset = offset;
  op->whole = whole;
  detail::initiate(op);
  return std::move(future);
}

void AsyncFile::cancel(OperationId operation) {
  checked()->core().cancelOperation(*channel_.get(), operation);
}
void AsyncFile::close() {
  if (channel_) channel_->core().close(*channel_.get());
}

}  // namespace nioxx
