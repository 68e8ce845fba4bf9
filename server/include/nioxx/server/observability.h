// ServerObservability: what serverMain() adds for operators (docs/parts/operations.md):
// --metrics HOST:PORT (Prometheus /metrics on its own listener: server, loop and proactor
// families) and --trace FILE (Chrome trace-event JSON of every proactor operation).
//
// Thread rule: one controlling thread (serverMain). Declare it before the server it observes:
// the proactor's observer must outlive the proactor, and detach() runs before the server goes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nioxx/core/metrics.h"
#include "nioxx/proactor/operation_metrics.h"
#include "nioxx/proactor/trace_recorder.h"
#include "nioxx/server/metrics_endpoint.h"
#include "nioxx/server/server.h"

namespace nioxx::server {

struct ObservabilityOptions {
  std::string metrics;  // "HOST:PORT" or empty (off)
  std::string trace;    // trace file or empty (off)
};

class ServerObservability {
 public:
  // Throws std::invalid_argument for a malformed --metrics address.
  ServerObservability(ObservabilityOptions options, const ServerConfig& config);
  ~ServerObservability();

  // For ServerConfig::observer, before the server is made (null when both are off).
  OperationObserver* observer() noexcept;
  // After server.start(): registers the collectors and opens the endpoint (throws
  // std::system_error if it cannot bind). Returns a line for the log ("metrics on http://...")
  // or an empty string.
  std::string attach(Server& server, const std::string& program);
  // After server.stop(), before the server is destroyed: closes the endpoint, drops the
  // collectors and writes the trace file (returns a line for the log, or an empty string; throws
  // std::system_error if the file cannot be written). Idempotent.
  std::string detach();

 private:
  ObservabilityOptions options_;
  InetSocketAddress metricsAddress_;
  ServerConfig config_;
  std::unique_ptr<TraceRecorder> tracer_;
  std::unique_ptr<OperationMetrics> operations_;
  std::vector<metrics::MetricsRegistry::Handle> collectors_;
  std::unique_ptr<MetricsEndpoint> endpoint_;
  bool traced_ = false;
};

}  // namespace nioxx::server
