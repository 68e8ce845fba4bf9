#include "http/path_resolver.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace nioxx::http {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// openat2(2) with RESOLVE_BENEATH resolves the path below the root in the kernel, in one system
// call and without a window between the check and the open: "..", absolute symbolic links and
// links that lead out of the root fail with EXDEV. Where it is missing (kernels before 5.6, a
// seccomp profile that refuses it) the resolver falls back to realpath(3) + a prefix check.
std::atomic<bool> gOpenat2Works{true};

int openBeneath(int rootFd, const std::string& relative) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;  // O_NONBLOCK: a FIFO must not block the server
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const char* path = relative.c_str();
  while (*path == '/')
    ++path;
  if (*path == '\0') path = ".";
  return static_cast<int>(::syscall(SYS_openat2, rootFd, path, &how, sizeof how));
}

std::optional<std::string> realPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr), &std::free);
  if (!real) return std::nullopt;
  return std::string(real.get());
}

}  // namespace

FileHandle& FileHandle::operator=(FileHandle&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

DocumentRoot::DocumentRoot(const std::string& root) {
  auto real = realPath(root);
  struct stat st {};
  if (!real || ::stat(real->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw std::invalid_argument("--root '" + root + "' is not an existing directory");
  }
  root_ = *real;
  if (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  rootFd_ = FileHandle(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (rootFd_.fd() < 0) {
    throw std::invalid_argument("--root '" + root + "' cannot be opened");
  }
}

std::optional<std::string> DocumentRoot::decodePath(std::string_view target, bool& badRequest) {
  badRequest = false;
  if (target.empty() || target.front() != '/') {
    badRequest = true;  // absolute-form, authority-form, "*": not for a static file server
    return std::nullopt;
  }
  target = target.substr(0, target.find_first_of("?#"));
  std::string out;
  out.reserve(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      const int hi = i + 2 < target.size() ? hexValue(target[i + 1]) : -1;
      const int lo = i + 2 < target.size() ? hexValue(target[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        badRequest = true;
        return std::nullopt;
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
      if (c == '/') return std::nullopt;  // an encoded slash would hide a segment boundary
    }
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    out.push_back(c);
  }
  // Segment checks on the decoded path: "." and ".." (however written) never reach the disk.
  std::size_t start = 1;
  while (start <= out.size()) {
    const std::size_t end = std::min(out.find('/', start), out.size());
    const std::string_view segment(out.data() + start, end - start);
    if (segment == "." || segment == "..") return std::nullopt;
    start = end + 1;
  }
  return out;
}

std::optional<ResolvedFile> DocumentRoot::openUnderRoot(const std::string& relative,
                                                        bool& isDirectory) const {
  isDirectory = false;
  int fd = -1;
  std::string path;
  if (gOpenat2Works.load(std::memory_order_relaxed)) {
    fd = openBeneath(rootFd_.fd(), relative);
    if (fd < 0 && (errno == ENOSYS || errno == EPERM)) gOpenat2Works.store(false);
    path = root_ + relative;  // names the file for logs and its Content-Type; never reopened
  }
  if (!gOpenat2Works.load(std::memory_order_relaxed)) {
    auto real = realPath(root_ + relative);
    if (!real) return std::nullopt;
    // The resolved path must be the root itself or lie below it (symbolic links included).
    if (*real != root_ && real->compare(0, root_.size() + 1, root_ + "/") != 0) return std::nullopt;
    // O_NONBLOCK: opening a FIFO must not block the server; O_NOFOLLOW: the path is already real.
    fd = ::open(real->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    path = std::move(*real);
  }
  if (fd < 0) return std::nullopt;
  ResolvedFile f{FileHandle(fd), std::move(path), 0, 0};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  if (S_ISDIR(st.st_mode)) {
    isDirectory = true;
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;  // devices, sockets, FIFOs
  f.size = st.st_size;
  f.mtime = st.st_mtim.tv_sec;
  return f;
}

Resolution DocumentRoot::resolve(std::string_view target) const {
  Resolution r;
  bool bad = false;
  auto path = decodePath(target, bad);
  if (!path) {
    r.kind = bad ? Resolution::Kind::bad_request : Resolution::Kind::not_found;
    return r;
  }
  bool isDirectory = false;
  auto file = openUnderRoot(*path, isDirectory);
  if (!file && isDirectory) {
    if (path->back() != '/') {
      // Relative links in the index page need the slash: redirect, keeping the query.
      const std::string_view raw = target;
      const auto q = raw.find('?');
      r.kind = Resolution::Kind::redirect;
      r.location = std::string(raw.substr(0, q)) + "/" +
                   (q == std::string_view::npos ? "" : std::string(raw.substr(q)));
      return r;
    }
    bool indexIsDirectory = false;
    file = openUnderRoot(*path + "index.html", indexIsDirectory);
  }
  if (!file) return r;  // not_found
  r.kind = Resolution::Kind::file;
  r.file = std::move(*file);
  return r;
}

}  // namespace nioxx::http
