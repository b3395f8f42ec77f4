// Redactor: exact values, JSON-escaped values, overlapping secrets.
#include "supervisor/core/redactor.h"

#include <gtest/gtest.h>

namespace hero::core {
namespace {

using Secrets = std::map<std::string, std::string>;

TEST(RedactorTest, ReplacesEveryOccurrenceWithTheName) {
  Redactor r(Secrets{{"API_KEY", "sk-123456789"}});
  std::string s = "key=sk-123456789 and again sk-123456789.";
  EXPECT_TRUE(r.Apply(&s));
  EXPECT_EQ(s, "key=[secret API_KEY] and again [secret API_KEY].");
}

TEST(RedactorTest, MatchesTheJsonEscapedSpellingInsideStoredJson) {
  Redactor r(Secrets{{"TOKEN", "ab\"cd\\ef-123"}});
  std::string json = R"({"tag":"ab\"cd\\ef-123"})";
  EXPECT_TRUE(r.Apply(&json));
  EXPECT_EQ(json, R"({"tag":"[secret TOKEN]"})");
}

TEST(RedactorTest, LongerSecretContainingAShorterOneIsReplacedWhole) {
  Redactor r(Secrets{{"SHORT", "abcdefgh"}, {"LONG", "abcdefgh-and-more"}});
  std::string s = "x abcdefgh-and-more y abcdefgh";
  r.Apply(&s);
  EXPECT_EQ(s, "x [secret LONG] y [secret SHORT]");
}

TEST(RedactorTest, EmptyRedactorChangesNothing) {
  Redactor r;
  EXPECT_TRUE(r.empty());
  std::string s = "nothing to see";
  EXPECT_FALSE(r.Apply(&s));
  EXPECT_EQ(s, "nothing to see");
}

}  // namespace
}  // namespace hero::core
