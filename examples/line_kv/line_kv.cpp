// A line-protocol key-value server on ReactorServer + LineHandler:
//
//   SET key value   -> OK              (value: the rest of the line, spaces allowed)
//   GET key         -> VALUE value | NOT_FOUND
//   QUIT            -> BYE, then the server closes the connection
//   anything else   -> ERR <why>       (the connection stays open)
//   a line > 1 KiB  -> ERR line too long, then the server closes the connection
//
//   line_kv [--port N] [--reactors N]   prints "listening on HOST:PORT", serves until
//   SIGINT/SIGTERM
//
// Ownership: ReactorServer owns each connection and its handler (one KvHandler per connection,
// made by the factory); the store is shared by all of them, so it has its own lock (with
// main_sub_reactors, handlers of different connections run on different threads at once).
#include <nioxx/reactor/line_handler.h>
#include <nioxx/reactor/reactor_server.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>

using namespace nioxx;

namespace {

class Store {
 public:
  void set(std::string key, std::string value) {
    std::lock_guard lock(mutex_);
    map_[std::move(key)] = std::move(value);
  }
  std::optional<std::string> get(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> map_;
};

class KvHandler final : public LineHandler {
 public:
  explicit KvHandler(Store& store) : LineHandler(1024), store_(store) {}

  void onLine(Connection& connection, std::string_view line) override {
    const auto [command, rest] = split(line);
    if (command == "SET") {
      const auto [key, value] = split(rest);
      if (key.empty()) return reply(connection, "ERR usage: SET key value");
      store_.set(std::string(key), std::string(value));
      reply(connection, "OK");
    } else if (command == "GET") {
      if (rest.empty()) return reply(connection, "ERR usage: GET key");
      const auto value = store_.get(std::string(rest));
      reply(connection, value ? "VALUE " + *value : std::string("NOT_FOUND"));
    } else if (command == "QUIT") {
      reply(connection, "BYE");
      connection.close();  // after BYE is written; the lines after QUIT are ignored
    } else {
      reply(connection, "ERR unknown command");
    }
  }
  void onLineTooLong(Connection& connection) override {
    reply(connection, "ERR line too long");  // LineHandler closes after this reply
  }

 private:
  static void reply(Connection& connection, std::string_view text) {
    std::string line(text);
    line += '\n';
    connection.write(line);  // false only if the client stopped reading (the limit): it loses
  }
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
  CLI::App app{"nioxx line-protocol key-value server"};
  std::uint16_t port = 0;
  std::size_t reactors = 2;
  app.add_option("--port", port, "TCP port on 127.0.0.1; 0 picks a free one");
  app.add_option("--reactors", reactors, "I/O threads")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  sigset_t stopSignals;  // blocked in every thread (the server's inherit it), taken by sigwait
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  Store store;  // outlives the server, so every handler
  ReactorServer server({.address = InetSocketAddress::loopback(port),
                        .concurrency = Concurrency::main_sub_reactors,
                        .reactors = reactors,
                        .maxInputBytes = 64 * 1024},
                       [&store] { return std::make_unique<KvHandler>(store); });
  try {
    server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot start: %s\n", e.what());
    return 1;
  }
  std::printf("listening on %s\n", server.localAddress().toString().c_str());
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stopSignals, &signal);
  server.stop();  // stops accepting, closes every connection, joins the threads
  std::printf("stopped\n");
  return 0;
}
