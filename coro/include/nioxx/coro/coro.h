// Umbrella header: C++20 coroutines on the Proactor's operations (Task, awaitables, spawn,
// Scope, timeouts). Link nioxx::coro.
#pragma once

#include "nioxx/coro/operations.h"
#include "nioxx/coro/spawn.h"
#include "nioxx/coro/stream.h"
#include "nioxx/coro/task.h"
#include "nioxx/coro/timeout.h"
