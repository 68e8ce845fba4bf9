// Umbrella header: the whole proactor/ user API. Engine authors add nioxx/proactor/spi/*.h.
#pragma once

#include "nioxx/proactor/async_file.h"
#include "nioxx/proactor/async_result.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/completion_handler.h"
#include "nioxx/proactor/dispatch_strategy.h"
#include "nioxx/proactor/live_counts.h"
#include "nioxx/proactor/observer.h"
#include "nioxx/proactor/placement.h"
#include "nioxx/proactor/proactor.h"
#include "nioxx/proactor/shutdown_error.h"
