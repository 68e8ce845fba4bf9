// upper_server: the second demo, to copy when writing your own protocol. Same flags, limits and
// modes as hello_server (everything but UpperService comes from the server layer, nioxx::server).
#include "nioxx/server/server_main.h"
#include "upper/upper_service.h"

int main(int argc, char** argv) {
  return nioxx::server::serverMain(
      argc, argv,
      {.name = "upper_server",
       .description = "Uppercases text: each varint32-length-prefixed frame is answered with the "
                      "same frame, ASCII letters uppercased.",
       .factory = &nioxx::demo::UpperService::create});
}
