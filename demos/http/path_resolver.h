// DocumentRoot: maps a request-target to a regular file under the root, refusing everything that
// could leave it. The rules (issue 15's security list):
//   - only origin-form targets ("/a/b?q"); the query is ignored;
//   - percent-decoding happens exactly once (so "%252e" is the literal name "%2e");
//   - a bad escape, an encoded slash ("%2F"), a backslash, a NUL or control byte, or a "." / ".."
//     segment (written plainly or encoded) refuses the request;
//   - the file is opened below the root's descriptor with openat2(RESOLVE_BENEATH) (realpath and
//     a prefix check where openat2 is unavailable): a symbolic link pointing outside the root is
//     refused, one pointing inside is followed;
//   - a directory is served through its index.html (a redirect adds the missing slash first);
//     there is no directory listing.
// Every refusal is "not found" to the client: it learns nothing about the file system.
//
// Thread rule: immutable after construction; resolve() is safe from any thread.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace nioxx::http {

// An open file descriptor, closed by the destructor.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) noexcept : fd_(fd) {}
  FileHandle(FileHandle&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileHandle& operator=(FileHandle&& o) noexcept;
  ~FileHandle();
  int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

struct ResolvedFile {
  FileHandle file;   // open O_RDONLY
  std::string path;  // root + the decoded target (logs, Content-Type); not for reopening
  off_t size = 0;
  std::time_t mtime = 0;
};

struct Resolution {
  enum class Kind { file, not_found, bad_request, redirect } kind = Kind::not_found;
  ResolvedFile file;     // kind == file
  std::string location;  // kind == redirect: the target with a slash added
};

class DocumentRoot {
 public:
  // Throws std::invalid_argument if root is not an existing directory.
  explicit DocumentRoot(const std::string& root);
  const std::string& realRoot() const noexcept { return root_; }

  Resolution resolve(std::string_view target) const;

  // Percent-decodes the path part of an origin-form target once and checks it (the rules above);
  // nullopt = refused. Exposed for the tests and the fuzz target.
  static std::optional<std::string> decodePath(std::string_view target, bool& badRequest);

 private:
  std::optional<ResolvedFile> openUnderRoot(const std::string& relative, bool& isDirectory) const;

  std::string root_;   // realpath of the root, no trailing slash
  FileHandle rootFd_;  // O_PATH descriptor of root_, for openat2
};

}  // namespace nioxx::http
