// FakeBackend: a Backend for API tests (echo, typed, slow async, failing methods; an SSE source
// the test pushes into). Loop thread only, like the real one.
#pragma once

#include <uv.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/api/backend.h"
#include "supervisor/base/json_writer.h"
#include "supervisor/loop/uv_handle.h"

namespace hero::api::testing {

inline StatusCode StatusCodeFromName(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(StatusCode::kInternal); ++i) {
    auto c = static_cast<StatusCode>(i);
    if (StatusCodeName(c) == name) return c;
  }
  return StatusCode::kInternal;
}

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(uv_loop_t* loop) : loop_(loop) {}

  struct Subscription {
    RunId run;
    int64_t last_event_id;
    std::shared_ptr<SseStream> stream;
  };

  Status RegisterMethods(MethodTable& t) override {
    HERO_RETURN_IF_ERROR(
        t.Add({.name = "echo",
               .summary = "Returns its value.",
               .params = {{"value", ParamType::kAny, true, "anything"}},
               .result_description = "the value",
               .handler = [](const Params& p, Reply r) { r(std::string(p.GetJson("value"))); }}));
    HERO_RETURN_IF_ERROR(t.Add({.name = "typed",
                                .summary = "Echoes typed params back as an object.",
                                .params = {{"s", ParamType::kString, true, "a string"},
                                           {"i", ParamType::kInteger, true, "an integer"},
                                           {"n", ParamType::kNumber, false, "a number"},
                                           {"b", ParamType::kBoolean, false, "a boolean"},
                                           {"o", ParamType::kObject, false, "an object"},
                                           {"a", ParamType::kArray, false, "an array"},
                                           {"mode", ParamType::kString, false, "an enum",
                                            R"({"type":"string","enum":["fast","slow"]})"}},
                                .result_schema_json = R"({"type":"object"})",
                                .handler = [](const Params& p, Reply r) {
                                  JsonWriter w;
                                  w.BeginObject();
                                  w.Field("s", p.GetString("s"));
                                  w.Field("i", p.GetInt("i"));
                                  if (p.Has("n")) w.Key("n").Double(p.GetNumber("n"));
                                  if (p.Has("b")) w.Field("b", p.GetBool("b"));
                                  if (p.Has("o")) w.Key("o").Raw(p.GetJson("o"));
                                  if (p.Has("a")) w.Key("a").Raw(p.GetJson("a"));
                                  w.EndObject();
                                  r(w.Take());
                                }}));
    HERO_RETURN_IF_ERROR(t.Add({.name = "slow",
                                .summary = "Replies after ms milliseconds (a uv timer).",
                                .params = {{"ms", ParamType::kInteger, true, "delay"},
                                           {"value", ParamType::kAny, false, "result"}},
                                .handler = [this](const Params& p, Reply r) {
                                  StartSlow(p.GetInt("ms"), std::string(p.GetJson("value")),
                                            std::move(r));
                                }}));
    HERO_RETURN_IF_ERROR(t.Add({.name = "fail",
                                .summary = "Fails with the named status code.",
                                .params = {{"code", ParamType::kString, true, "e.g. NOT_FOUND"},
                                           {"message", ParamType::kString, false, "message"}},
                                .handler = [](const Params& p, Reply r) {
                                  r(Status(StatusCodeFromName(p.GetString("code")),
                                           std::string(p.GetString("message", "it failed"))));
                                }}));
    HERO_RETURN_IF_ERROR(t.Add({.name = "note",
                                .summary = "Counts calls (for notifications).",
                                .params = {},
                                .handler = [this](const Params&, Reply r) {
                                  ++notes;
                                  r(std::string("true"));
                                }}));
    HERO_RETURN_IF_ERROR(t.Add({.name = "drop",
                                .summary = "Drops its Reply without answering.",
                                .handler = [](const Params&, Reply) {}}));
    return Status::Ok();
  }

  Status SubscribeRunEvents(RunId run, int64_t last_event_id,
                            std::shared_ptr<SseStream> stream) override {
    if (run.value == 404) return NotFound("run 404 does not exist");
    subs.push_back({run, last_event_id, stream});
    if (run.value == 7) {  // replay
      stream->Send(1, "span_start", R"({"a":1})");
      stream->Send(2, "span_log", "line one\nline two");
      stream->Send(3, "", "plain");
    }
    if (run.value == 8) {  // a finished run
      stream->Send(1, "span_start", R"({"id":"1"})");
      stream->Send(2, "run_end", R"({"status":"ok"})");
      stream->Close();
    }
    return Status::Ok();
  }

  Result<std::string> HealthJson() override {
    if (unhealthy) return Unavailable("store is down");
    return std::string(R"({"fake":true})");
  }
  std::string MetricsText() override { return "# TYPE fake_metric gauge\nfake_metric 1\n"; }

  // Closes pending slow timers; their Replies are destroyed unanswered.
  void Stop() { slow_.clear(); }

  int notes = 0;
  int slow_replied = 0;
  bool unhealthy = false;
  std::vector<Subscription> subs;

 private:
  struct Slow {
    loop::UvHandle<uv_timer_t> timer;
    Reply reply;
    std::string value;
    FakeBackend* self = nullptr;
  };

  void StartSlow(int64_t ms, std::string value, Reply reply) {
    slow_.emplace_back();
    auto it = std::prev(slow_.end());
    it->reply = std::move(reply);
    it->value = value.empty() ? "null" : std::move(value);
    it->self = this;
    auto t =
        loop::UvHandle<uv_timer_t>::Create([&](uv_timer_t* h) { return uv_timer_init(loop_, h); });
    it->timer = std::move(t).value();
    it->timer.get()->data = &*it;
    uv_timer_start(it->timer.get(), &OnSlowTimer, static_cast<uint64_t>(ms), 0);
  }

  static void OnSlowTimer(uv_timer_t* t) noexcept {
    Slow* slow = static_cast<Slow*>(t->data);
    FakeBackend* self = slow->self;
    Reply reply = std::move(slow->reply);
    std::string value = std::move(slow->value);
    self->slow_.remove_if([slow](const Slow& s) { return &s == slow; });  // closes the timer
    ++self->slow_replied;
    reply(std::move(value));
  }

  uv_loop_t* loop_;
  std::list<Slow> slow_;
};

}  // namespace hero::api::testing
