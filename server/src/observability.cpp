#include "nioxx/server/observability.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "nioxx/core/log.h"
#include "nioxx/reactor/loop_stats.h"

namespace nioxx::server {

ServerObservability::ServerObservability(ObservabilityOptions options, const ServerConfig& config)
    : options_(std::move(options)), config_(config) {
  if (!options_.trace.empty()) {
    if (config.mode == "reactor") {
      throw std::invalid_argument(
          "--trace records proactor operations: use it with --mode proactor or coroutine");
    }
    // Fail now, not after the run: the file is written only when the server stops.
    if (!std::ofstream(options_.trace, std::ios::trunc)) {
      throw std::invalid_argument("--trace: cannot write " + options_.trace + ": " +
                                  std::strerror(errno));
    }
    tracer_ = std::make_unique<TraceRecorder>();
  }
  if (!options_.metrics.empty()) {
    metricsAddress_ = MetricsEndpoint::parse(options_.metrics);
    operations_ = std::make_unique<OperationMetrics>(config.dispatch, tracer_.get());
  }
}

ServerObservability::~ServerObservability() {
  try {
    detach();
  } catch (const std::exception& e) {
    log::get("server")->error("{}", e.what());
  }
}

OperationObserver* ServerObservability::observer() noexcept {
  if (operations_) return operations_.get();
  return tracer_.get();
}

std::string ServerObservability::attach(Server& server, const std::string& program) {
  if (options_.metrics.empty()) return {};
  auto& registry = metrics::MetricsRegistry::global();
  const std::string engine = config_.mode == "reactor" ? "reactor" : server.engine();
  collectors_.push_back(registry.add([this, engine, program](metrics::Exposition& out) {
    out.family("nioxx_server_info", "The server's configuration (value 1).", metrics::Type::gauge)
        .sample({{"server", program},
                 {"mode", config_.mode},
                 {"engine", engine},
                 {"dispatch", config_.mode == "reactor" ? "" : config_.dispatch},
                 {"threads", std::to_string(config_.threads)}},
                1);
  }));
  collectors_.push_back(registry.add([&server, program](metrics::Exposition& out) {
    server.stats().collectMetrics(out, program);
  }));
  collectors_.push_back(registry.add(&collectLoopMetrics));
  if (config_.mode != "reactor") {
    collectors_.push_back(
        registry.add([ops = operations_.get()](metrics::Exposition& out) { ops->collect(out); }));
  }
  endpoint_ =
      std::make_unique<MetricsEndpoint>(metricsAddress_, [&registry] { return registry.scrape(); });
  return "metrics on http://" + endpoint_->localAddress().toString() + "/metrics";
}

std::string ServerObservability::detach() {
  endpoint_.reset();
  collectors_.clear();
  if (!tracer_ || traced_) return {};
  traced_ = true;
  const auto s = tracer_->writeFile(options_.trace);
  return "trace written to " + options_.trace + ": " + std::to_string(s.operations) +
         " operations (" + std::to_string(s.incomplete) + " incomplete, " +
         std::to_string(s.dropped) + " events dropped from full rings)";
}

}  // namespace nioxx::server
