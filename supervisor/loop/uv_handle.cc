// libuv error codes to Status. Loop thread or any thread (pure).
#include "supervisor/loop/uv_handle.h"

namespace hero::loop {

Status UvStatus(int uv_rc, std::string_view context) {
  // On Unix every UV_E* code is -errno, so the one errno table in base applies.
  return Status::FromErrno(-uv_rc, context);
}

}  // namespace hero::loop
