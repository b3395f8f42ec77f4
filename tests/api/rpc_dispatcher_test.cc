// Unit tests: JSON-RPC dispatch, param validation, the error table, OpenRPC shape, SSE framing.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>
#include <string>
#include <vector>

#include "supervisor/api/json_rpc.h"
#include "supervisor/api/openrpc.h"
#include "supervisor/api/rpc_errors.h"
#include "supervisor/api/sse.h"
#include "tests/api/fake_backend.h"

namespace hero::api {
namespace {

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : backend_(nullptr), dispatcher_(&table_, {.server_version = "9.9.9"}) {
    HERO_CHECK(backend_.RegisterMethods(table_).ok());
    HERO_CHECK(
        table_
            .Add({.name = "later",
                  .summary = "Keeps its reply for the test to answer.",
                  .params = {{"tag", ParamType::kString, false, ""}},
                  .handler = [this](const Params&, Reply r) { later_.push_back(std::move(r)); }})
            .ok());
  }

  // Returns the response, or "<pending>" if done has not run yet.
  std::string Call(std::string_view body) {
    std::string out = "<pending>";
    dispatcher_.HandleAsync(body, [&out](std::string r) { out = std::move(r); });
    return out;
  }

  MethodTable table_;
  testing::FakeBackend backend_;
  RpcDispatcher dispatcher_;
  std::vector<Reply> later_;
};

TEST_F(DispatcherTest, EchoesResultWithStringNumberAndNullIds) {
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":[1,"x"]}})"),
            R"({"jsonrpc":"2.0","id":1,"result":[1,"x"]})");
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","id":"a\"b","method":"echo","params":[true]})"),
            R"({"jsonrpc":"2.0","id":"a\"b","result":true})");
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","id":null,"method":"echo","params":[null]})"),
            R"({"jsonrpc":"2.0","id":null,"result":null})");
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"echo","params":[1]})"),
            R"({"jsonrpc":"2.0","id":18446744073709551615,"result":1})");
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","id":-2.5,"method":"echo","params":[1]})"),
            R"({"jsonrpc":"2.0","id":-2.5,"result":1})");
}

TEST_F(DispatcherTest, ParseErrorsAre32700WithNullId) {
  for (const char* body : {"", "{", "not json", "{\"jsonrpc\":\"2.0\",}", "\xff\xfe"}) {
    std::string r = Call(body);
    EXPECT_NE(r.find(R"("id":null,"error":{"code":-32700)"), std::string::npos) << body << " " << r;
  }
  std::string deep(100000, '[');
  EXPECT_NE(Call(deep).find("-32700"), std::string::npos);
  // A number beyond double range cannot be an id.
  EXPECT_NE(Call(R"({"jsonrpc":"2.0","id":1e999,"method":"echo","params":[1]})").find("-32700"),
            std::string::npos);
}

TEST_F(DispatcherTest, InvalidRequestsAre32600) {
  struct Case {
    const char* body;
    const char* message;
  } cases[] = {
      {"1", "expected a JSON-RPC request object, got integer"},
      {R"({"id":1,"method":"echo"})", "\\\"jsonrpc\\\" must be \\\"2.0\\\""},
      {R"({"jsonrpc":"1.0","id":1,"method":"echo"})", "\\\"jsonrpc\\\" must be \\\"2.0\\\""},
      {R"({"jsonrpc":"2.0","id":1,"method":7})", "\\\"method\\\" must be a string"},
      {R"({"jsonrpc":"2.0","id":1})", "\\\"method\\\" must be a string"},
      {R"({"jsonrpc":"2.0","id":1,"method":"echo","params":"x"})",
       "\\\"params\\\" must be an object or an array"},
      {R"({"jsonrpc":"2.0","id":{},"method":"echo"})", "\\\"id\\\" must be a string"},
      {R"({"jsonrpc":"2.0","id":true,"method":"echo"})", "\\\"id\\\" must be a string"},
      {"[]", "empty batch"},
  };
  for (const Case& c : cases) {
    std::string r = Call(c.body);
    EXPECT_NE(r.find(R"("code":-32600)"), std::string::npos) << c.body << " -> " << r;
    EXPECT_NE(r.find(c.message), std::string::npos) << c.body << " -> " << r;
    EXPECT_EQ(r.rfind("{", 0), 0u) << "a single error object, not an array: " << r;
  }
  // The id is echoed when it is valid even if the rest is not.
  EXPECT_EQ(
      Call(R"({"jsonrpc":"2.0","id":5,"method":3})"),
      R"({"jsonrpc":"2.0","id":5,"error":{"code":-32600,"message":"invalid request: \"method\" must be a string"}})");
}

TEST_F(DispatcherTest, UnknownMethodIs32601) {
  std::string r = Call(R"({"jsonrpc":"2.0","id":1,"method":"nope"})");
  EXPECT_EQ(
      r,
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method \"nope\" not found; rpc.discover lists the methods"}})");
  EXPECT_NE(Call(R"({"jsonrpc":"2.0","id":1,"method":"rpc.other"})").find("-32601"),
            std::string::npos);
}

TEST_F(DispatcherTest, InvalidParamsNameTheFieldAndExpectedType) {
  struct Case {
    const char* params;
    const char* message;
  } cases[] = {
      {R"({"s":1,"i":2})", R"(invalid params: \"s\" must be a string, got integer)"},
      {R"({"s":"x","i":"2"})", R"(invalid params: \"i\" must be an integer, got string)"},
      {R"({"s":"x","i":2.5})", R"(invalid params: \"i\" must be an integer, got number)"},
      {R"({"s":"x","i":9223372036854775808})",
       R"(invalid params: \"i\" must be an integer in the signed 64-bit range)"},
      {R"({"s":"x","i":1,"n":"1"})", R"(invalid params: \"n\" must be a number, got string)"},
      {R"({"s":"x","i":1,"b":1})", R"(invalid params: \"b\" must be a boolean, got integer)"},
      {R"({"s":"x","i":1,"o":[]})", R"(invalid params: \"o\" must be an object, got array)"},
      {R"({"s":"x","i":1,"a":{}})", R"(invalid params: \"a\" must be an array, got object)"},
      {R"({"i":1})", R"(invalid params: missing required param \"s\" (string))"},
      {R"({"s":null,"i":1})", R"(invalid params: \"s\" must be a string, got null)"},
      {R"({"s":"x","i":1,"zzz":1})",
       R"(invalid params: unknown param \"zzz\" (method typed takes: s, i, n, b, o, a, mode))"},
      {R"(["x",1,2,true,{},[],"fast","extra"])",
       R"(invalid params: method typed takes at most 7 positional params, got 8)"},
      {R"([1])", R"(invalid params: \"s\" must be a string, got integer)"},
      {"[]", R"(invalid params: missing required param \"s\" (string))"},
  };
  for (const Case& c : cases) {
    std::string body =
        std::string(R"({"jsonrpc":"2.0","id":3,"method":"typed","params":)") + c.params + "}";
    std::string r = Call(body);
    EXPECT_NE(r.find(R"("code":-32602)"), std::string::npos) << c.params << " -> " << r;
    EXPECT_NE(r.find(c.message), std::string::npos) << c.params << " -> " << r;
  }
  EXPECT_NE(Call(R"({"jsonrpc":"2.0","id":3,"method":"typed"})").find("missing required"),
            std::string::npos);
}

TEST_F(DispatcherTest, ParamsByNameAndByPositionReachTheHandlerTyped) {
  EXPECT_EQ(
      Call(
          R"({"jsonrpc":"2.0","id":1,"method":"typed","params":{"i":-7,"s":"h\u00e9","n":2,"b":false,"o":{"k": [1, 2]},"a":[ ]}})"),
      R"({"jsonrpc":"2.0","id":1,"result":{"s":"hé","i":-7,"n":2,"b":false,"o":{"k":[1,2]},"a":[]}})");
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","id":1,"method":"typed","params":["x",3.0,null,true]})"),
            R"({"jsonrpc":"2.0","id":1,"result":{"s":"x","i":3,"b":true}})");
}

TEST_F(DispatcherTest, DomainErrorsUseTheTableAndCarryStatus) {
  EXPECT_EQ(
      Call(
          R"({"jsonrpc":"2.0","id":1,"method":"fail","params":{"code":"NOT_FOUND","message":"run 42 not found"}})"),
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32011,"message":"run 42 not found","data":{"status":"NOT_FOUND"}}})");
  EXPECT_NE(Call(R"({"jsonrpc":"2.0","id":1,"method":"fail","params":{"code":"INTERNAL"}})")
                .find(R"("code":-32603,"message":"it failed"})"),
            std::string::npos);
  EXPECT_NE(Call(R"({"jsonrpc":"2.0","id":1,"method":"drop"})")
                .find(R"({"code":-32603,"message":"the handler dropped its reply"})"),
            std::string::npos);
}

TEST_F(DispatcherTest, NotificationsGetNoResponse) {
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"note"})"), "");
  EXPECT_EQ(backend_.notes, 1);
  // Errors of well-formed notifications are not reported either.
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"nope"})"), "");
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","method":"typed","params":{"s":1}})"), "");
  EXPECT_EQ(Call(R"([{"jsonrpc":"2.0","method":"note"},{"jsonrpc":"2.0","method":"note"}])"), "");
  EXPECT_EQ(backend_.notes, 3);
}

TEST_F(DispatcherTest, BatchAnswersInOrderSkippingNotifications) {
  std::string r = Call(R"([
    {"jsonrpc":"2.0","id":1,"method":"echo","params":[1]},
    {"jsonrpc":"2.0","method":"note"},
    {"jsonrpc":"2.0","id":"two","method":"nope"},
    42,
    {"jsonrpc":"2.0","id":3,"method":"echo","params":{"value":"three"}}
  ])");
  EXPECT_EQ(
      r,
      R"([{"jsonrpc":"2.0","id":1,"result":1},)"
      R"({"jsonrpc":"2.0","id":"two","error":{"code":-32601,"message":"method \"nope\" not found; rpc.discover lists the methods"}},)"
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: expected a JSON-RPC request object, got integer"}},)"
      R"({"jsonrpc":"2.0","id":3,"result":"three"}])");
}

TEST_F(DispatcherTest, BatchLimitIsEnforced) {
  std::string body = "[";
  for (int i = 0; i < 1001; ++i)
    body += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","method":"note"})";
  body += "]";
  EXPECT_NE(Call(body).find("exceeds the limit of 1000"), std::string::npos);
  EXPECT_EQ(backend_.notes, 0);
}

TEST_F(DispatcherTest, AsyncRepliesCompleteTheBatchWhenAllAnswered) {
  std::string out = "<pending>";
  dispatcher_.HandleAsync(
      R"([{"jsonrpc":"2.0","id":1,"method":"later"},{"jsonrpc":"2.0","id":2,"method":"later"},)"
      R"({"jsonrpc":"2.0","id":3,"method":"echo","params":[0]}])",
      [&out](std::string r) { out = std::move(r); });
  EXPECT_EQ(out, "<pending>");
  ASSERT_EQ(later_.size(), 2u);
  later_[1](std::string("\"second\""));
  EXPECT_EQ(out, "<pending>");
  EXPECT_FALSE(later_[1].pending());
  later_[0](Status(StatusCode::kDeadlineExceeded, "too slow"));
  EXPECT_EQ(
      out,
      R"([{"jsonrpc":"2.0","id":1,"error":{"code":-32017,"message":"too slow","data":{"status":"DEADLINE_EXCEEDED"}}},)"
      R"({"jsonrpc":"2.0","id":2,"result":"second"},{"jsonrpc":"2.0","id":3,"result":0}])");
}

TEST_F(DispatcherTest, ReplyOutlivingTheDispatcherIsSafe) {
  Reply kept;
  std::string got;
  {
    MethodTable t;
    ASSERT_TRUE(
        t.Add({.name = "keep", .handler = [&](const Params&, Reply r) { kept = std::move(r); }})
            .ok());
    RpcDispatcher d(&t, {});
    d.HandleAsync(R"({"jsonrpc":"2.0","id":1,"method":"keep"})", [&](std::string s) { got = s; });
    ASSERT_TRUE(kept.pending());
  }
  kept(std::string("1"));  // the done callback only writes `got`, still alive here
  EXPECT_EQ(got, R"({"jsonrpc":"2.0","id":1,"result":1})");
}

TEST_F(DispatcherTest, DiscoverListsMethodsButNotItself) {
  std::string r = Call(R"({"jsonrpc":"2.0","id":1,"method":"rpc.discover"})");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(r).get(doc), simdjson::SUCCESS) << r;
  std::string_view version;
  ASSERT_EQ(doc["result"]["openrpc"].get_string().get(version), simdjson::SUCCESS);
  EXPECT_EQ(version, "1.2.6");
  EXPECT_EQ(doc["result"]["info"]["version"].get_string().value(), "9.9.9");
  std::set<std::string> names;
  simdjson::dom::array methods;
  ASSERT_EQ(doc["result"]["methods"].get_array().get(methods), simdjson::SUCCESS);
  for (simdjson::dom::element m : methods) {
    names.insert(std::string(m["name"].get_string().value()));
  }
  EXPECT_TRUE(names.count("echo") && names.count("typed") && names.count("later"));
  EXPECT_FALSE(names.count("rpc.discover"));
  EXPECT_NE(Call(R"({"jsonrpc":"2.0","id":1,"method":"rpc.discover","params":[1]})").find("-32602"),
            std::string::npos);
}

TEST(OpenRpcTest, ParamSchemasFollowTypesOrOverride) {
  EXPECT_EQ(ParamSchemaJson({"x", ParamType::kInteger}), R"({"type":"integer"})");
  EXPECT_EQ(ParamSchemaJson({"x", ParamType::kAny}), "{}");
  EXPECT_EQ(ParamSchemaJson({"x", ParamType::kString, false, "", R"({"enum":["a"]})"}),
            R"({"enum":["a"]})");
}

TEST(MethodTableTest, RejectsBadRegistrations) {
  MethodTable t;
  auto h = [](const Params&, Reply r) { r(std::string("1")); };
  EXPECT_TRUE(t.Add({.name = "a", .handler = h}).ok());
  EXPECT_EQ(t.Add({.name = "a", .handler = h}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(t.Add({.name = "", .handler = h}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Add({.name = "rpc.x", .handler = h}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Add({.name = "b"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      t.Add({.name = "c", .params = {{"p", ParamType::kAny}, {"p", ParamType::kAny}}, .handler = h})
          .code(),
      StatusCode::kInvalidArgument);
}

TEST(ParseParamsTest, ValidatesOutsideTheDispatcher) {
  MethodSpec spec{.name = "m",
                  .params = {{"run_id", ParamType::kInteger, true, ""},
                             {"timeout_ms", ParamType::kInteger, false, ""}}};
  auto ok = ParseParams(spec, R"({"run_id":4})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->GetInt("run_id"), 4);
  EXPECT_EQ(ok->GetInt("timeout_ms", 30), 30);
  auto bad = ParseParams(spec, R"([true])");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), R"("run_id" must be an integer, got boolean)");
  EXPECT_FALSE(ParseParams(spec, "").ok());
}

TEST(RpcErrorTableTest, EveryStatusCodeHasExactlyOneRowAndRoundTrips) {
  std::set<int> codes;
  for (const RpcErrorCode& row : RpcErrorCodes()) {
    EXPECT_TRUE(codes.insert(row.code).second) << "duplicate code " << row.code;
    EXPECT_FALSE(row.meaning.empty());
  }
  for (int i = 1; i <= static_cast<int>(StatusCode::kInternal); ++i) {
    auto sc = static_cast<StatusCode>(i);
    int rows = 0;
    for (const RpcErrorCode& row : RpcErrorCodes()) rows += row.from_status && row.status == sc;
    EXPECT_EQ(rows, 1) << StatusCodeName(sc);
    EXPECT_EQ(StatusForRpcCode(RpcCodeForStatus(sc)), sc) << StatusCodeName(sc);
  }
  EXPECT_EQ(RpcCodeForStatus(StatusCode::kNotFound), -32011);
  EXPECT_EQ(RpcCodeForStatus(StatusCode::kInternal), kRpcInternalError);
  EXPECT_EQ(StatusForRpcCode(kRpcInvalidParams), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusForRpcCode(kRpcMethodNotFound), StatusCode::kUnimplemented);
  EXPECT_EQ(StatusForRpcCode(12345), StatusCode::kInternal);
}

TEST(SseFramingTest, FramesIdEventAndMultiLineData) {
  std::string out;
  AppendSseEvent(out, 42, "span_log", "a\nb\r\nc\rd");
  EXPECT_EQ(out, "id: 42\nevent: span_log\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  out.clear();
  AppendSseEvent(out, -1, "", "x\n");
  EXPECT_EQ(out, "data: x\n\n");
  out.clear();
  AppendSseEvent(out, 0, "evil\nevent: x", "");
  EXPECT_EQ(out, "id: 0\nevent: evil event: x\ndata: \n\n");
}

TEST(SseParserTest, ParsesWhatTheFramerWritesAcrossArbitrarySplits) {
  std::string wire = "retry: 2000\n\n: heartbeat\n\n";
  AppendSseEvent(wire, 1, "span_start", R"({"a":1})");
  AppendSseEvent(wire, 2, "span_log", "line one\nline two");
  AppendSseEvent(wire, -1, "", "plain");
  wire += "id: 9\r\ndata: crlf\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{3}, size_t{7}, wire.size()}) {
    std::vector<std::string> got;
    SseParser parser([&](int64_t id, std::string_view ev, std::string_view data) {
      got.push_back(std::to_string(id) + "|" + std::string(ev) + "|" + std::string(data));
      return true;
    });
    for (size_t i = 0; i < wire.size(); i += step) {
      ASSERT_TRUE(parser.Feed(std::string_view(wire).substr(i, step)).ok());
    }
    EXPECT_EQ(got,
              (std::vector<std::string>{"1|span_start|{\"a\":1}", "2|span_log|line one\nline two",
                                        "-1|message|plain", "9|message|crlf"}))
        << "step " << step;
    EXPECT_EQ(parser.last_event_id(), 9);
  }
}

TEST(SseParserTest, LongLinesAreAnErrorNotUnboundedGrowth) {
  SseParser parser([](int64_t, std::string_view, std::string_view) { return true; }, 16);
  EXPECT_EQ(parser.Feed(std::string(100, 'x')).code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace hero::api
