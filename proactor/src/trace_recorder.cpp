#include "nioxx/proactor/trace_recorder.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <new>
#include <system_error>
#include <unordered_map>

#include "nioxx/core/error.h"

namespace nioxx {

struct TraceRecorder::Ring {
  explicit Ring(std::size_t capacity, long tid) : events(capacity), tid(tid) {}
  std::vector<Event> events;
  std::size_t next = 0;  // total events written; slot = next % capacity
  long tid;              // kernel thread id (the trace's tid)
};

namespace {

std::atomic<std::uint64_t> gSerial{1};

struct Cache {
  std::uint64_t serial = 0;
  TraceRecorder::Ring* ring = nullptr;
};
thread_local Cache tCache;

std::uint64_t nowNs() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

const char* outcomeName(std::uint8_t o) {
  switch (o) {
    case 1:
      return "error";
    case 2:
      return "cancelled";
    case 3:
      return "timed_out";
    default:
      return "ok";
  }
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Microseconds with nanosecond precision, as the format wants.
std::string us(std::uint64_t ns, std::uint64_t origin) {
  const std::uint64_t d = ns - origin;
  std::string s = std::to_string(d / 1000) + ".";
  const std::string frac = std::to_string(d % 1000);
  return s + std::string(3 - frac.size(), '0') + frac;
}

}  // namespace

TraceRecorder::TraceRecorder(std::size_t eventsPerThread)
    : capacity_(std::max<std::size_t>(eventsPerThread, 16)),
      serial_(gSerial.fetch_add(1, std::memory_order_relaxed)) {}

TraceRecorder::~TraceRecorder() = default;

TraceRecorder::Ring& TraceRecorder::ring() noexcept {
  Cache& c = tCache;
  if (c.serial == serial_) [[likely]]
    return *c.ring;
  std::lock_guard lock(mutex_);
  rings_.push_back(std::make_unique<Ring>(capacity_, static_cast<long>(::syscall(SYS_gettid))));
  c.serial = serial_;
  c.ring = rings_.back().get();
  return *c.ring;
}

void TraceRecorder::record(std::uint64_t id, OpKind kind, std::uint8_t phase, std::uint8_t outcome,
                           std::uint16_t actType) noexcept {
  Ring* r;
  try {
    r = &ring();
  } catch (const std::bad_alloc&) {
    return;  // no ring for this thread: its events are lost, not the process
  }
  r->events[r->next % r->events.size()] = Event{nowNs(), id, kind, phase, outcome, actType};
  ++r->next;
}

void TraceRecorder::onPhase(const Operation& op, OpPhase phase) noexcept {
  std::uint8_t outcome = 0;
  if (phase == OpPhase::dispatched) {
    const OpState state = op.state();
    if (state == OpState::timed_out) {
      outcome = 3;
    } else if (state == OpState::cancelled ||
               op.error == make_error_code(Error::operation_aborted)) {
      outcome = 2;
    } else if (op.error) {
      outcome = 1;
    }
  }
  record(op.id(), op.kind(), static_cast<std::uint8_t>(phase), outcome,
         phase == OpPhase::initiated ? op.actTypeTag() : 0);
}

void TraceRecorder::onHandlerEnd(OperationId id, OpKind kind) noexcept {
  record(id, kind, kHandlerEnd, 0);
}

TraceRecorder::Summary TraceRecorder::write(std::ostream& out) const {
  std::lock_guard lock(mutex_);
  struct Seen {
    const Event* e;
    long tid;
  };
  std::vector<Seen> all;
  Summary summary;
  for (const auto& r : rings_) {
    const std::size_t cap = r->events.size();
    const std::size_t n = std::min(r->next, cap);
    summary.dropped += r->next - n;
    for (std::size_t i = r->next - n; i < r->next; ++i)
      all.push_back({&r->events[i % cap], r->tid});
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const Seen& a, const Seen& b) { return a.e->ns < b.e->ns; });
  const std::uint64_t origin = all.empty() ? 0 : all.front().e->ns;

  // Which operations have their initiation, dispatch and handler end: only those are written.
  struct Life {
    int initiated = 0, dispatched = 0, ended = 0;
  };
  std::unordered_map<std::uint64_t, Life> lives;
  for (const Seen& s : all) {
    Life& l = lives[s.e->id];
    if (s.e->phase == static_cast<std::uint8_t>(OpPhase::initiated)) ++l.initiated;
    if (s.e->phase == static_cast<std::uint8_t>(OpPhase::dispatched)) ++l.dispatched;
    if (s.e->phase == kHandlerEnd) ++l.ended;
  }
  for (const auto& [id, l] : lives) {
    if (l.initiated == 1 && l.dispatched == 1 && l.ended == 1) {
      ++summary.operations;
    } else {
      ++summary.incomplete;
    }
  }

  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  const auto emit = [&](const std::string& json) {
    out << (first ? "" : ",\n") << json;
    first = false;
  };
  std::vector<long> tids;
  for (const auto& r : rings_)
    tids.push_back(r->tid);
  std::sort(tids.begin(), tids.end());
  tids.erase(std::unique(tids.begin(), tids.end()), tids.end());
  for (long tid : tids) {
    emit("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":" + std::to_string(tid) +
         ",\"args\":{\"name\":\"nioxx thread " + std::to_string(tid) + "\"}}");
  }
  std::unordered_map<std::uint64_t, const Seen*> handlerStart;  // dispatched, awaiting its end
  for (const Seen& s : all) {
    const Event& e = *s.e;
    const Life& l = lives[e.id];
    if (!(l.initiated == 1 && l.dispatched == 1 && l.ended == 1)) continue;
    const std::string id = std::to_string(e.id);
    const std::string kind = toString(e.kind);
    const std::string common =
        ",\"pid\":1,\"tid\":" + std::to_string(s.tid) + ",\"ts\":" + us(e.ns, origin);
    switch (e.phase) {
      case static_cast<std::uint8_t>(OpPhase::initiated):
        emit("{\"ph\":\"X\",\"dur\":0,\"cat\":\"initiate\",\"name\":\"initiate " + kind + "\"" +
             common + ",\"args\":{\"op\":" + id + ",\"kind\":\"" + kind + "\",\"act\":\"" +
             jsonEscape(detail::actTypeName(e.actType)) + "\"}}");
        emit("{\"ph\":\"s\",\"cat\":\"op\",\"name\":\"" + kind + "\",\"id\":" + id + common + "}");
        emit("{\"ph\":\"b\",\"cat\":\"op\",\"name\":\"" + kind + " #" + id + "\",\"id\":" + id +
             common + "}");
        break;
      case static_cast<std::uint8_t>(OpPhase::waiting):
      case static_cast<std::uint8_t>(OpPhase::performing):
        emit("{\"ph\":\"n\",\"cat\":\"op\",\"name\":\"" +
             std::string(toString(static_cast<OpPhase>(e.phase))) + "\",\"id\":" + id + common +
             "}");
        break;
      case static_cast<std::uint8_t>(OpPhase::completed):
        emit("{\"ph\":\"e\",\"cat\":\"op\",\"name\":\"" + kind + " #" + id + "\",\"id\":" + id +
             common + "}");
        break;
      case static_cast<std::uint8_t>(OpPhase::dispatched):
        handlerStart[e.id] = &s;
        break;
      case kHandlerEnd: {
        const Seen* start = handlerStart[e.id];
        if (start == nullptr) break;  // cannot happen: dispatched sorts first
        const Event& d = *start->e;
        const std::string startCommon =
            ",\"pid\":1,\"tid\":" + std::to_string(start->tid) + ",\"ts\":" + us(d.ns, origin);
        emit("{\"ph\":\"X\",\"cat\":\"handler\",\"name\":\"handler " + kind + "\"" + startCommon +
             ",\"dur\":" + us(e.ns, d.ns) + ",\"args\":{\"op\":" + id + ",\"outcome\":\"" +
             outcomeName(d.outcome) + "\"}}");
        emit("{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"op\",\"name\":\"" + kind + "\",\"id\":" + id +
             startCommon + "}");
        handlerStart.erase(e.id);
        break;
      }
      default:
        break;
    }
  }
  out << "\n],\"otherData\":{\"operations\":" << summary.operations
      << ",\"incomplete\":" << summary.incomplete << ",\"dropped_events\":" << summary.dropped
      << "}}\n";
  return summary;
}

TraceRecorder::Summary TraceRecorder::writeFile(const std::string& path) const {
  std::ofstream f(path, std::ios::trunc);
  if (!f) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  Summary s = write(f);
  f.flush();
  if (!f) throw std::system_error(errno, std::generic_category(), "cannot write " + path);
  return s;
}

}  // namespace nioxx
