// libFuzzer entry point over framer + parser + assembler (clang only: HERO_FUZZ=ON). The
// checks live in fuzz_harness.cc, shared with the corpus replay test of the default build.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string violation =
      hero::fuzz::CheckSpanStream(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!violation.empty()) {
    std::fprintf(stderr, "span stream invariant violated: %s\n", violation.c_str());
    std::abort();
  }
  return 0;
}
