// upper_server: the second demo, to copy when writing your own protocol. Same flags, limits and
// modes as hello_server (everything but UpperService comes from demos/common).
#include "common/server_main.h"
#include "upper/upper_service.h"

int main(int argc, char** argv) {
  return nioxx::demo::serverMain(
      argc, argv,
      {"upper_server",
       "Uppercases text: each varint32-length-prefixed frame is answered with the same frame, "
       "ASCII letters uppercased.",
       &nioxx::demo::UpperService::create});
}
