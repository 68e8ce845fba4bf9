// ClientDriver: the I/O glue of hello_client, reactive (SocketChannel + EventHandler on a
// ReactorGroup) or proactive (AsyncSocket + completion handlers on a ServerProactor). The protocol
// side is ClientConnection.
//
// Thread rule: start()/nudge()/stop() from the controlling thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "hello/client_connection.h"

namespace nioxx::demo {

class ClientDriver {
 public:
  virtual ~ClientDriver() = default;
  // Connects every connection and runs them on the driver's threads.
  virtual void start(std::vector<std::unique_ptr<ClientConnection>>& connections) = 0;
  // Call after setting ClientShared::stopSending: idle connections notice it and finish.
  virtual void nudge() = 0;
  // Closes what is still open and joins every thread. Idempotent.
  virtual void stop() = 0;
};

std::unique_ptr<ClientDriver> makeReactiveClientDriver(std::size_t threads);
std::unique_ptr<ClientDriver> makeProactiveClientDriver(std::size_t threads,
                                                        const std::string& dispatch);

}  // namespace nioxx::demo
