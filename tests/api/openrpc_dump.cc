// Prints the rpc.discover document (as served) for a table covering every param type, so the
// OpenRPC meta-schema check (openrpc/validate.js) validates exactly what the server emits.
#include <cstdio>
#include <string>

#include "supervisor/api/json_rpc.h"
#include "tests/api/fake_backend.h"

int main() {
  hero::api::MethodTable table;
  hero::api::testing::FakeBackend backend(nullptr);
  hero::Status s = backend.RegisterMethods(table);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  hero::api::RpcDispatcher dispatcher(&table, {});
  std::string out;
  dispatcher.HandleAsync(R"({"jsonrpc":"2.0","id":1,"method":"rpc.discover"})",
                         [&](std::string r) { out = std::move(r); });
  // The document is the "result" member; print it alone.
  const std::string prefix = R"({"jsonrpc":"2.0","id":1,"result":)";
  if (out.rfind(prefix, 0) != 0) {
    std::fprintf(stderr, "unexpected rpc.discover answer: %s\n", out.c_str());
    return 1;
  }
  std::string doc = out.substr(prefix.size(), out.size() - prefix.size() - 1);
  std::fwrite(doc.data(), 1, doc.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}
