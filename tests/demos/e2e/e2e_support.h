// End-to-end test support: starting the real hello_server / hello_client binaries and talking to
// the server over plain blocking sockets (so the tests depend on no nioxx I/O code).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace nioxx::demo::e2e {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A temporary file path, removed on destruction.
class TempFile {
 public:
  TempFile() {
    char name[] = "/tmp/nioxx-e2e-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = name;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::string read() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
};

// Spawns argv[0] with stdout and stderr redirected to files. Returns the pid.
inline pid_t spawn(const std::vector<std::string>& args, const std::string& out,
                   const std::string& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  return pid;
}

// Waits for pid up to timeout; returns the exit code, 128+signal if killed, -1 on timeout.
inline int waitExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno != EINTR) return -2;  // not our child (already reaped)
    if (Clock::now() > deadline) return -1;
    std::this_thread::sleep_for(2ms);
  }
}

struct RunResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

// Runs a program to completion (killed after timeout).
inline RunResult run(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  TempFile out, err;
  const pid_t pid = spawn(args, out.path(), err.path());
  RunResult r;
  r.exitCode = waitExit(pid, timeout);
  if (r.exitCode == -1) {
    ::kill(pid, SIGKILL);
    waitExit(pid, 10s);
  }
  r.out = out.read();
  r.err = err.read();
  return r;
}

// The real hello_server (or another demo server) on an ephemeral port.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> flags, std::string binary = HELLO_SERVER_PATH) {
    std::vector<std::string> args{binary, "--port", "0"};
    if (std::find(flags.begin(), flags.end(), "--log-level") == flags.end()) {
      args.insert(args.end(), {"--log-level", "warn"});
    }
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = spawn(args, out_.path(), err_.path());
    const auto deadline = Clock::now() + 30s;
    while (Clock::now() < deadline) {
      const std::string text = out_.read();
      const auto at = text.find("listening on ");
      const auto eol = text.find('\n', at);
      if (at != std::string::npos && eol != std::string::npos) {
        listening_ = text.substr(at, eol - at);
        const auto colon = listening_.rfind(':', listening_.find(" mode="));
        port_ = static_cast<std::uint16_t>(std::stoi(listening_.substr(colon + 1)));
        return;
      }
      if (waitExit(pid_, 0ms) != -1) {
        pid_ = -1;
        throw std::runtime_error("hello_server exited at startup: " + err_.read());
      }
      std::this_thread::sleep_for(5ms);
    }
    throw std::runtime_error("hello_server did not print its listening line");
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitExit(pid_, 10s);
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& listeningLine() const { return listening_; }
  std::string out() const { return out_.read(); }
  std::string err() const { return err_.read(); }

  // SIGTERM, then the exit code (-1 if it did not exit within timeout).
  int terminate(std::chrono::milliseconds timeout = 30s) {
    sendSignal(SIGTERM);
    return waitForExit(timeout);
  }
  void sendSignal(int signal) { ::kill(pid_, signal); }
  // The exit code, or -1 if the server is still running after timeout.
  int waitForExit(std::chrono::milliseconds timeout = 30s) {
    const int code = waitExit(pid_, timeout);
    if (code != -1) pid_ = -1;
    return code;
  }

  // Resident set size in KiB, from /proc/PID/status.
  long rssKiB() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }

 private:
  TempFile out_, err_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string listening_;
};

// A blocking loopback TCP client with receive timeouts.
class RawClient {
 public:
  enum class End { eof, reset, timeout };

  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed");
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  int fd() const { return fd_; }

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Reads until `until(received)` is true, the peer closes, or timeout. Returns how it ended
  // (timeout also when `until` became true).
  template <class Until>
  End read(std::string& received, Until until, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = Clock::now() + timeout;
    char buf[65536];
    while (!until(received)) {
      const auto left = deadline - Clock::now();
      if (left <= 0s) return End::timeout;
      timeval tv{};
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
      tv.tv_sec = us / 1000000;
      tv.tv_usec = std::max<long>(1000, us % 1000000);
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        received.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0) {
        return End::eof;
      } else if (errno == ECONNRESET) {
        return End::reset;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return End::reset;
      }
    }
    return End::timeout;
  }
  // Reads everything until the peer closes (or timeout).
  End readToEnd(std::string& received, std::chrono::milliseconds timeout = 20s) {
    return read(
        received, [](const std::string&) { return false; }, timeout);
  }

 private:
  int fd_ = -1;
};

}  // namespace nioxx::demo::e2e
