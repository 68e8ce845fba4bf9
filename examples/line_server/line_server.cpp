// A line-protocol key-value server on the installed server layer (nioxx::server). The protocol is
// the FrameService below; the line framing, the limits, the three I/O modes, the lingering close,
// the signals and the command line (--help) are the layer's.
//
//   SET key value   -> OK              (value: the rest of the line, spaces allowed)
//   GET key         -> VALUE value | NOT_FOUND
//   QUIT            -> BYE, then the server closes the connection
//   anything else   -> ERR unknown command (the connection stays open)
//   a line longer than --max-frame bytes -> ERR line too long: ..., then the server closes
//
//   line_server [--port N] [--mode reactor|proactor|coroutine] [--max-frame BYTES] ...
#include <nioxx/server/server_main.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace {

using nioxx::server::Replies;

// Shared by every connection, which may be served on different threads at once: its own lock.
class Store {
 public:
  void set(std::string key, std::string value) {
    std::lock_guard lock(mutex_);
    map_[std::move(key)] = std::move(value);
  }
  std::optional<std::string> get(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = map_.find(key);
    return it == map_.end() ? std::nullopt : std::optional(it->second);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> map_;
};

// One per connection; gets each line without its "\n" (or "\r\n"), replies are framed as lines.
class KvService final : public nioxx::server::FrameService {
 public:
  explicit KvService(Store& store) : store_(store) {}

  bool onFrame(std::span<const std::uint8_t> payload, Replies& out) override {
    const std::string_view line(reinterpret_cast<const char*>(payload.data()), payload.size());
    const auto [command, rest] = split(line);
    if (command == "SET") {
      const auto [key, value] = split(rest);
      if (key.empty()) {
        out.append("ERR usage: SET key value");
      } else {
        store_.set(std::string(key), std::string(value));
        out.append("OK");
      }
    } else if (command == "GET") {
      const auto value = store_.get(std::string(rest));
      out.append(value ? "VALUE " + *value : std::string("NOT_FOUND"));
    } else if (command == "QUIT") {
      out.append("BYE");
      out.closeAfter();  // the lines after QUIT are not looked at
    } else {
      out.append("ERR unknown command");
    }
    return true;  // false would mean "bad input": the reply is an error and the server closes
  }

  // Framing errors (a line over --max-frame), and "server busy" over --max-connections.
  void appendError(std::string_view reason, Replies& out) override {
    out.append("ERR " + std::string(reason));
  }

 private:
  // "word rest" -> {"word", "rest"}; extra spaces between them are skipped.
  static std::pair<std::string_view, std::string_view> split(std::string_view s) {
    const auto space = s.find(' ');
    if (space == std::string_view::npos) return {s, {}};
    const auto rest = s.find_first_not_of(' ', space);
    return {s.substr(0, space), rest == std::string_view::npos ? "" : s.substr(rest)};
  }

  Store& store_;
};

}  // namespace

int main(int argc, char** argv) {
  static Store store;  // outlives the server, so every service
  return nioxx::server::serverMain(
      argc, argv,
      {.name = "line_server",
       .description = "A line-protocol key-value store: SET key value, GET key, QUIT",
       .factory = [] { return std::make_unique<KvService>(store); },
       .framing = nioxx::server::Framing::lines()});
}
