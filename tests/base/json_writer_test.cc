#include "supervisor/base/json_writer.h"

#include <gtest/gtest.h>

namespace hero {
namespace {

TEST(JsonWriterTest, NestedContainersGetCommas) {
  JsonWriter w;
  w.BeginObject()
      .Field("a", 1)
      .Key("b")
      .BeginArray()
      .Int(1)
      .String("x")
      .Null()
      .EndArray()
      .Key("c")
      .BeginObject()
      .EndObject()
      .Field("d", true)
      .EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[1,"x",null],"c":{},"d":true})");
}

TEST(JsonWriterTest, EscapesControlAndQuoteCharacters) {
  JsonWriter w;
  w.String(std::string("q\"b\\n\n\t\x01", 8));
  EXPECT_EQ(w.str(), R"("q\"b\\n\n\t\u0001")");
}

TEST(JsonWriterTest, InvalidUtf8BecomesReplacementCharacter) {
  JsonWriter w;
  w.String("ok\xff\xc3\xa9\xed\xa0\x80");  // bad byte, valid e-acute, surrogate
  EXPECT_EQ(w.str(), "\"ok\xEF\xBF\xBD\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonWriterTest, NonFiniteDoubleIsNull) {
  JsonWriter w;
  w.BeginArray().Double(1.5).Double(1.0 / 0.0).EndArray();
  EXPECT_EQ(w.str(), "[1.5,null]");
}

}  // namespace
}  // namespace hero
