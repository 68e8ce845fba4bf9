// Umbrella header: the whole proactor/ public API.
#pragma once

#include "nioxx/proactor/async_file.h"
#include "nioxx/proactor/async_operation_processor.h"
#include "nioxx/proactor/async_result.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/completion_handler.h"
#include "nioxx/proactor/dispatch_strategy.h"
#include "nioxx/proactor/live_counts.h"
#include "nioxx/proactor/operation.h"
#include "nioxx/proactor/proactor.h"
