// hello_server: answers HelloRequest{name, seq} with HelloReply{"Hello, <name>!", seq}, in reactor
// or proactor mode (--mode). Everything but the protocol lives in demos/common.
#include "common/server_main.h"
#include "hello/hello_service.h"

int main(int argc, char** argv) {
  return nioxx::demo::serverMain(
      argc, argv,
      {"hello_server",
       "The nioxx hello server: clients shout their names (protobuf HelloRequest, varint32 "
       "length-delimited), the server answers each with a HelloReply greeting, in order.",
       &nioxx::demo::HelloService::create, &nioxx::demo::HelloService::routeProtobufLogs});
}
