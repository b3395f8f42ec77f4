// Status: a cheap error value (code + message). Leaf of the tree: libc + STL only.
// Thread-compatible value type. errno is mapped to a code in one place (FromErrno).
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace hero {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // caller's input is wrong (bad JSON, wrong type, unknown flow file)
  kNotFound,         // named thing does not exist (run, flow, file)
  kAlreadyExists,
  kFailedPrecondition,  // system not in a state to do this (sandbox feature missing, daemon
                        // stopping)
  kResourceExhausted,   // a limit or cap was hit (fds, processes, queue full, disk full)
  kPermissionDenied,
  kUnavailable,  // transient: try again later (daemon not running, EAGAIN)
  kDeadlineExceeded,
  kCancelled,
  kUnimplemented,
  kIo,        // an I/O error from the OS or SQLite
  kInternal,  // a bug or corrupted state
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // Maps errno to a code; message = "<context>: <strerror>".
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;
  // "INVALID_ARGUMENT: message" or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIo, std::move(m)}; }

}  // namespace hero

// Propagates a non-ok Status from an expression returning Status.
#define HERO_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::hero::Status hero_status_ = (expr);        \
    if (!hero_status_.ok()) return hero_status_; \
  } while (0)
