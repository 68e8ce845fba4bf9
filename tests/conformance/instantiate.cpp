// Every behaviour test runs on every engine (engine.cpp).
#include "conformance_fixture.h"

namespace nioxx::conformance {

INSTANTIATE_TEST_SUITE_P(Engines, ConformanceTest, ::testing::ValuesIn(allEngines()),
                         [](const ::testing::TestParamInfo<EngineParam>& info) {
                           return info.param.name;
                         });

}  // namespace nioxx::conformance
