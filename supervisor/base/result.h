// Result<T>: a value or a non-ok Status, shaped like std::expected (absent from GCC 12).
// Leaf: STL only. Accessing value() of an error Result is a programming error (CHECK).
#pragma once

#include <optional>
#include <utility>

#include "supervisor/base/check.h"
#include "supervisor/base/status.h"

namespace hero {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    HERO_CHECK(!status_.ok());
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    HERO_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    HERO_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    HERO_CHECK(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace hero

// `HERO_ASSIGN_OR_RETURN(auto x, Expr())`: returns the Status on error.
#define HERO_CONCAT_INNER_(a, b) a##b
#define HERO_CONCAT_(a, b) HERO_CONCAT_INNER_(a, b)
#define HERO_ASSIGN_OR_RETURN(lhs, expr) \
  HERO_ASSIGN_OR_RETURN_IMPL_(HERO_CONCAT_(hero_result_, __LINE__), lhs, expr)
#define HERO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
