#include "supervisor/base/status.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "supervisor/base/result.h"

namespace hero {
namespace {

TEST(StatusTest, ErrnoMapsToCodeWithContext) {
  Status s = Status::FromErrno(ENOENT, "open /x");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message().rfind("open /x: ", 0), 0u);
  EXPECT_EQ(Status::FromErrno(EMFILE, "socket").code(), StatusCode::kResourceExhausted);
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsOk) {
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
  EXPECT_EQ(InvalidArgument("bad").WithContext("parse").message(), "parse: bad");
}

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  HERO_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(ResultTest, AssignOrReturnPropagatesErrors) {
  int v = 0;
  EXPECT_TRUE(UseHalf(4, &v).ok());
  EXPECT_EQ(v, 2);
  Status s = UseHalf(3, &v);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hero
