// Internal: the one place api/ includes h2o (Debian libh2o 2.2.5, libuv flavour), with its
// warnings silenced under our -Werror flags. Not part of the public API.
#pragma once

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 1
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wswitch-enum"
#include <h2o.h>
#include <h2o/http1.h>
#pragma GCC diagnostic pop

#if !H2O_USE_LIBUV
#error "hero_api needs the libuv flavour of libh2o"
#endif
