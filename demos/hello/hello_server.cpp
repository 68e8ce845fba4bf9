// hello_server: answers HelloRequest{name, seq} with HelloReply{"Hello, <name>!", seq}, in reactor,
// proactor or coroutine mode (--mode). Everything but the protocol is the server layer's
// (nioxx::server).
#include "hello/hello_service.h"
#include "nioxx/server/server_main.h"

int main(int argc, char** argv) {
  return nioxx::server::serverMain(
      argc, argv,
      {.name = "hello_server",
       .description =
           "The nioxx hello server: clients shout their names (protobuf HelloRequest, varint32 "
           "length-delimited), the server answers each with a HelloReply greeting, in order.",
       .factory = &nioxx::demo::HelloService::create,
       .init = &nioxx::demo::HelloService::routeProtobufLogs,
       .framing = nioxx::server::Framing::varint()});
}
