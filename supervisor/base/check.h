// HERO_CHECK: aborts with file:line on a programming error. Leaf: libc only.
#pragma once

#include <cstdio>
#include <cstdlib>

#define HERO_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)
