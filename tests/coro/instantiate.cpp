// Every coroutine test runs on every engine (tests/conformance/engine.cpp).
#include "coro_fixture.h"

namespace nioxx::conformance {

INSTANTIATE_TEST_SUITE_P(Engines, CoroTest, ::testing::ValuesIn(allEngines()),
                         [](const ::testing::TestParamInfo<EngineParam>& info) {
                           return info.param.name;
                         });

}  // namespace nioxx::conformance
