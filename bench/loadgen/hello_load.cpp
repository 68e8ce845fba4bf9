// hello_load: a fast, validating load generator for the hello protocol (raw epoll, no framework,
// so it measures the server rather than itself).
//
// Load mode: C connections, each keeping D requests in flight (a reply triggers the next
// request). With --rate R the load is open-loop instead: R requests per second in all, paced every
// millisecond, each sent on a connection with fewer than D in flight; a request that finds no such
// connection is skipped and counted (the server, or this generator, is not keeping up). At a rate
// both sides sustain, the server's CPU per request compares servers without either side saturated.
// Every reply is checked (greeting text, seq, in order, no error). After --warmup seconds the
// counters restart; after --duration more seconds no new requests are sent and the in-flight ones
// are drained (unanswered ones count as lost). Idle mode (--idle): C connections, one round trip
// each, then held idle for --duration seconds; with --server-pid it reports the server's RSS before
// and with the connections. With --server-pid the server's CPU time (utime + stime) over the
// measured window is reported.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "hello.pb.h"
#include "hello_wire.h"
#include "histogram.h"

namespace nioxx::bench {
namespace {

using Clock = std::chrono::steady_clock;

enum Phase : int { kWarmup, kMeasure, kDrain, kStop };
std::atomic<int> gPhase{kWarmup};

struct Conn {
  int fd = -1;
  bool failed = false;
  std::string requestPrefix;  // 0x0A len name 0x10, followed per request by the seq varint
  std::string greeting;       // the expected greeting
  std::uint64_t nextSeq = 1;  // next seq to send
  std::uint64_t expectSeq = 1;
  std::vector<std::int64_t> sentAt;  // send time per in-flight seq (ring of D)
  std::vector<std::uint8_t> in;
  std::size_t inUsed = 0;
  std::string out;  // requests the socket did not take yet
};

struct Stats {
  Histogram latency;
  std::uint64_t requests = 0;
  std::uint64_t reads = 0;  // read() calls that returned replies (batching diagnostic)
  std::uint64_t sends = 0;
  std::uint64_t wrong = 0;
  std::uint64_t lost = 0;
  std::uint64_t connErrors = 0;
  std::uint64_t skipped = 0;  // --rate: due, but every connection had D requests in flight
};

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

class Worker {
 public:
  Worker(std::vector<Conn*> conns, int pipeline, bool idle, bool spin, double rate)
      : conns_(std::move(conns)),
        pipeline_(pipeline),
        idle_(idle),
        spin_(spin && !idle),
        rate_(idle ? 0 : rate),
        ep_(::epoll_create1(0)) {}
  ~Worker() { ::close(ep_); }

  Stats stats;
  std::atomic<bool> roundTripsDone{false};

  void run() {
    for (Conn* c : conns_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, c->fd, &ev);
      const int first = idle_ ? 1 : pipeline_;
      if (rate_ > 0) {
        for (int i = 0; i < first; ++i)
          free_.push_back(c);  // the pacer sends
        continue;
      }
      std::int64_t t = nowNs();
      for (int i = 0; i < first; ++i)
        queueRequest(*c, t);
      flush(*c);
      inFlight_ += static_cast<std::uint64_t>(first);
    }
    paceStart_ = nowNs();
    bool recording = false;
    std::vector<epoll_event> events(512);
    for (;;) {
      const int phase = gPhase.load(std::memory_order_acquire);
      if (phase == kMeasure && !recording) {
        recording = true;
        stats = Stats{};
      }
      recording_ = recording && phase == kMeasure;
      sending_ = phase < kDrain && !idle_;
      if (phase == kStop || (phase == kDrain && inFlight_ == 0)) break;
      if (idle_ && inFlight_ == 0) roundTripsDone.store(true, std::memory_order_release);
      // Spinning (timeout 0) keeps the load thread off the scheduler: no sleep/wake-up cost on
      // either side of the loopback, for a load generator that has a CPU of its own.
      if (rate_ > 0 && sending_) pace();
      const int timeoutMs = spin_ ? 0 : rate_ > 0 ? 1 : 10;
      int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeoutMs);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(events[i].data.ptr);
        if (events[i].events & EPOLLOUT) flush(*c);
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) onReadable(*c);
      }
    }
    stats.lost += inFlight_;
  }

 private:
  void fail(Conn& c, bool connError) {
    if (c.failed) return;
    c.failed = true;
    if (connError) ++stats.connErrors;
    const auto pending = c.nextSeq - c.expectSeq;
    stats.lost += pending;
    inFlight_ -= pending;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
  }

  // --rate: sends what is due by now, each on the oldest free connection slot.
  void pace() {
    const std::int64_t t = nowNs();
    const auto due = static_cast<std::uint64_t>(static_cast<double>(t - paceStart_) * rate_ / 1e9);
    while (paced_ < due) {
      if (free_.empty()) {
        if (recording_) stats.skipped += due - paced_;
        paced_ = due;
        break;
      }
      Conn* c = free_.front();
      free_.pop_front();
      if (c->failed) continue;
      queueRequest(*c, t);
      ++inFlight_;
      ++paced_;
      flush(*c);
    }
  }

  void queueRequest(Conn& c, std::int64_t t) {
    c.sentAt[c.nextSeq % c.sentAt.size()] = t;
    appendRequest(c.out, c.requestPrefix, c.nextSeq);
    ++c.nextSeq;
  }

  void flush(Conn& c) {
    if (c.failed || c.out.empty()) return;
    ssize_t w = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    ++stats.sends;
    if (w < 0 && errno != EAGAIN) return fail(c, true);
    c.out.erase(0, w < 0 ? 0 : static_cast<std::size_t>(w));
    epoll_event ev{};
    ev.events = c.out.empty() ? EPOLLIN : EPOLLIN | EPOLLOUT;
    ev.data.ptr = &c;
    if (!c.out.empty() || w < 0) ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void onReadable(Conn& c) {
    if (c.failed) return;
    if (c.in.size() - c.inUsed < 4096) c.in.resize(c.inUsed + 16384);
    ssize_t r = ::read(c.fd, c.in.data() + c.inUsed, c.in.size() - c.inUsed);
    if (r <= 0) {
      if (r < 0 && errno == EAGAIN) return;
      return fail(c, true);  // the server closed or reset the connection
    }
    c.inUsed += static_cast<std::size_t>(r);
    ++stats.reads;
    const std::int64_t t = nowNs();
    std::size_t pos = 0;
    int answered = 0;
    for (;;) {
      ReplyView reply;
      const std::size_t n = decodeReply(c.in.data() + pos, c.inUsed - pos, reply);
      if (n == 0) break;  // incomplete
      if (n == kBadFrame || !reply.valid || !reply.error.empty() || reply.greeting != c.greeting ||
          reply.seq != c.expectSeq) {
        ++stats.wrong;
        return fail(c, false);
      }
      pos += n;
      if (recording_) {
        ++stats.requests;
        stats.latency.record(
            static_cast<std::uint64_t>(t - c.sentAt[c.expectSeq % c.sentAt.size()]));
      }
      ++c.expectSeq;
      ++answered;
    }
    if (pos) {
      std::memmove(c.in.data(), c.in.data() + pos, c.inUsed - pos);
      c.inUsed -= pos;
    }
    inFlight_ -= static_cast<std::uint64_t>(answered);
    if (sending_ && answered && rate_ > 0) {
      for (int i = 0; i < answered; ++i)
        free_.push_back(&c);
    } else if (sending_ && answered) {
      for (int i = 0; i < answered; ++i)
        queueRequest(c, t);
      inFlight_ += static_cast<std::uint64_t>(answered);
      flush(c);
    }
  }

  std::vector<Conn*> conns_;
  int pipeline_;
  bool idle_;
  bool spin_;
  double rate_;  // requests per second from this worker; 0: closed loop
  int ep_;
  std::deque<Conn*> free_;  // --rate: a connection once per request it may still take (FIFO)
  std::int64_t paceStart_ = 0;
  std::uint64_t paced_ = 0;
  bool recording_ = false;
  bool sending_ = true;
  std::uint64_t inFlight_ = 0;
};

// Blocking connect (serial, so the server's accept backlog never overflows), then non-blocking.
int connectTo(const sockaddr_in& addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

// utime + stime of pid in seconds, or -1.
double processCpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// This process's CPU time (all threads) in seconds, and the part spent in the kernel: on loopback
// most of it is TCP work that no user-space change can remove.
struct CpuTimes {
  double total = 0;
  double kernel = 0;
};
CpuTimes selfCpu() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  return {seconds(ru.ru_utime) + seconds(ru.ru_stime), seconds(ru.ru_stime)};
}

// VmRSS of pid in KiB, or -1.
long processRssKib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace
}  // namespace nioxx::bench

int main(int argc, char** argv) {
  using namespace nioxx::bench;
  CLI::App app{"Validating load generator for the hello protocol"};
  std::string host = "127.0.0.1";
  int port = 7070, connections = 64, pipeline = 1, threads = 1, serverPid = 0;
  double duration = 10, warmup = 2, rate = 0;
  bool idle = false, json = false, spin = false;
  app.add_option("--host", host, "server IPv4 address");
  app.add_option("--port", port, "server port")->required();
  app.add_option("--connections,-c", connections, "connections")->check(CLI::Range(1, 1000000));
  app.add_option("--pipeline,-d", pipeline, "requests in flight per connection")
      ->check(CLI::Range(1, 4096));
  app.add_option("--duration", duration, "measured seconds (idle mode: seconds held idle)");
  app.add_option("--warmup", warmup, "unmeasured seconds before the measurement");
  app.add_option("--threads", threads, "load threads")->check(CLI::Range(1, 64));
  app.add_option("--server-pid", serverPid, "report this process's CPU time and RSS");
  app.add_option("--rate", rate, "open loop: requests per second in all (0: closed loop)")
      ->check(CLI::Range(0.0, 1e8));
  app.add_flag("--idle", idle, "one round trip per connection, then hold them idle");
  app.add_flag("--spin", spin, "busy-poll (epoll_wait timeout 0): only with a CPU of its own");
  app.add_flag("--json", json, "print one JSON object on stdout (the summary goes to stderr)");
  CLI11_PARSE(app, argc, argv);
  if (!selfCheck()) {
    std::fprintf(stderr, "hello_load: wire encoder disagrees with protobuf (bug)\n");
    return 2;
  }

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "hello_load: bad --host %s\n", host.c_str());
    return 2;
  }
  const long rssBefore = serverPid ? processRssKib(serverPid) : -1;
  std::vector<Conn> conns(static_cast<std::size_t>(connections));
  std::uint64_t connectErrors = 0;
  for (int i = 0; i < connections; ++i) {
    Conn& c = conns[static_cast<std::size_t>(i)];
    const std::string name = "bench-" + std::to_string(i);
    c.requestPrefix = requestPrefix(name);
    c.greeting = "Hello, " + name + "!";
    c.sentAt.resize(static_cast<std::size_t>(pipeline) + 1);
    c.fd = connectTo(addr);
    if (c.fd < 0) {
      if (connectErrors++ == 0) std::perror("hello_load: connect");
      c.failed = true;
    }
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) {
    std::vector<Conn*> mine;
    for (std::size_t i = static_cast<std::size_t>(t); i < conns.size(); i += threads) {
      if (!conns[i].failed) mine.push_back(&conns[i]);
    }
    workers.push_back(
        std::make_unique<Worker>(std::move(mine), pipeline, idle, spin, rate / threads));
  }
  std::vector<std::thread> running;
  for (auto& w : workers)
    running.emplace_back([&w] { w->run(); });

  auto sleepFor = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  double cpu0 = 0, cpu1 = 0, elapsed = duration;
  CpuTimes self0, self1;
  long rssIdle = -1;
  if (idle) {
    for (auto& w : workers) {
      while (!w->roundTripsDone.load(std::memory_order_acquire))
        sleepFor(0.01);
    }
    sleepFor(std::min(duration, 1.0));  // let the server settle
    if (serverPid) rssIdle = processRssKib(serverPid);
    sleepFor(std::max(0.0, duration - 1.0));
    gPhase.store(kMeasure);  // starts and ends nothing; the workers just count the round trips
    gPhase.store(kDrain);
  } else {
    sleepFor(warmup);
    if (serverPid) cpu0 = processCpuSeconds(serverPid);
    self0 = selfCpu();
    const auto start = Clock::now();
    gPhase.store(kMeasure, std::memory_order_release);
    sleepFor(duration);
    gPhase.store(kDrain, std::memory_order_release);
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    self1 = selfCpu();
    if (serverPid) cpu1 = processCpuSeconds(serverPid);
    std::thread stopper([&] {
      sleepFor(5.0);  // replies not back within 5 s of the end are lost
      gPhase.store(kStop);
    });
    stopper.detach();
  }
  for (auto& t : running)
    t.join();

  Stats total;
  for (auto& w : workers) {
    total.latency.merge(w->stats.latency);
    total.requests += w->stats.requests;
    total.reads += w->stats.reads;
    total.sends += w->stats.sends;
    total.wrong += w->stats.wrong;
    total.lost += w->stats.lost;
    total.connErrors += w->stats.connErrors;
    total.skipped += w->stats.skipped;
  }
  total.connErrors += connectErrors;
  for (Conn& c : conns) {
    if (c.fd < 0) continue;
    linger lg{1, 0};  // reset: leaves no TIME_WAIT behind across hundreds of runs
    ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(c.fd);
  }

  const double rps = idle ? 0 : static_cast<double>(total.requests) / elapsed;
  auto us = [&](double q) { return static_cast<double>(total.latency.quantile(q)) / 1000.0; };
  const double cpu = cpu1 - cpu0;
  const double cpuPerReq =
      total.requests && !idle ? cpu / static_cast<double>(total.requests) * 1e6 : 0;
  const double rssPerConn =
      rssIdle >= 0 && rssBefore >= 0 ? static_cast<double>(rssIdle - rssBefore) / connections : 0;
  const double clientCpu = self1.total - self0.total;
  const double clientKernelShare = clientCpu > 0 ? (self1.kernel - self0.kernel) / clientCpu : 0;
  const double clientCpuPerReq =
      total.requests && !idle ? clientCpu / static_cast<double>(total.requests) * 1e6 : 0;
  const double perRead =
      total.reads ? static_cast<double>(total.requests) / static_cast<double>(total.reads) : 0;
  const double perSend =
      total.sends ? static_cast<double>(total.requests) / static_cast<double>(total.sends) : 0;
  char summary[1024];
  if (idle) {
    std::snprintf(summary, sizeof summary,
                  "idle: %d connections held %.0f s; server RSS %ld KiB -> %ld KiB (%.3f KiB per "
                  "connection); wrong %llu, lost %llu, connection errors %llu\n",
                  connections, duration, rssBefore, rssIdle, rssPerConn,
                  static_cast<unsigned long long>(total.wrong),
                  static_cast<unsigned long long>(total.lost),
                  static_cast<unsigned long long>(total.connErrors));
  } else {
    std::snprintf(summary, sizeof summary,
                  "%d connections x pipeline %d, %.1f s: %llu requests, %.0f req/s\n"
                  "latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n"
                  "server CPU %.3f s = %.3f us/request; wrong %llu, lost %llu, connection "
                  "errors %llu\nclient: CPU %.0f%% of one core (%.0f%% of it in the kernel), %.3f "
                  "us/request, %.1f replies per read, %.1f requests per send\n",
                  connections, pipeline, elapsed, static_cast<unsigned long long>(total.requests),
                  rps, us(0.5), us(0.9), us(0.99), us(0.999),
                  static_cast<double>(total.latency.max()) / 1000.0, cpu, cpuPerReq,
                  static_cast<unsigned long long>(total.wrong),
                  static_cast<unsigned long long>(total.lost),
                  static_cast<unsigned long long>(total.connErrors), clientCpu / elapsed * 100,
                  clientKernelShare * 100, clientCpuPerReq, perRead, perSend);
  }
  std::fputs(summary, json ? stderr : stdout);
  if (rate > 0 && !idle) {
    std::fprintf(json ? stderr : stdout,
                 "open loop: %.0f req/s asked, %llu skipped (no free slot)\n", rate,
                 static_cast<unsigned long long>(total.skipped));
  }
  if (json) {
    std::printf(
        "{\"mode\":\"%s\",\"connections\":%d,\"pipeline\":%d,\"duration_s\":%.3f,"
        "\"requests\":%llu,\"rps\":%.1f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
        "\"p999_us\":%.2f,\"max_us\":%.2f,\"wrong\":%llu,\"lost\":%llu,\"conn_errors\":%llu,"
        "\"server_cpu_s\":%.4f,\"server_cpu_us_per_req\":%.4f,\"rss_before_kib\":%ld,"
        "\"rss_idle_kib\":%ld,\"rss_per_conn_kib\":%.4f,\"replies_per_read\":%.2f,\"client_cpu_us_"
        "per_req\":%.4f,\"client_cpu_util\":%.3f,\"client_kernel_share\":%.3f,\"rate\":%.1f,"
        "\"skipped\":%llu}\n",
        idle ? "idle" : "load", connections, pipeline, elapsed,
        static_cast<unsigned long long>(total.requests), rps, us(0.5), us(0.9), us(0.99), us(0.999),
        static_cast<double>(total.latency.max()) / 1000.0,
        static_cast<unsigned long long>(total.wrong), static_cast<unsigned long long>(total.lost),
        static_cast<unsigned long long>(total.connErrors), cpu, cpuPerReq, rssBefore, rssIdle,
        rssPerConn, perRead, clientCpuPerReq, idle ? 0 : clientCpu / elapsed,
        idle ? 0 : clientKernelShare, idle ? 0 : rate,
        static_cast<unsigned long long>(total.skipped));
  }
  return total.wrong || total.lost || total.connErrors ? 1 : 0;
}
