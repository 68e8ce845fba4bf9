// OperationObserver: the lifecycle hook of ProactorOptions::observer (tracing, metrics). Each
// operation reports initiated -> [waiting <-> performing]* -> completed -> dispatched; onPhase may
// be called from any thread, concurrently, and must not block. With no observer installed each
// phase costs one predictable branch. Operation's accessors for observers: id(), kind(),
// channel(), error, transferred (nioxx/proactor/spi/operation.h).
#pragma once

#include "nioxx/proactor/spi/operation.h"
