// FlowLibrary: the library's writes that need the source's metadata (flow_create,
// flow_update, loading builtin_flows/), which comes from `python3 -m hero_tracing.inspect_flow`
// (ast only, never runs the source) in a helper process waited on by a worker thread. Plain
// reads go straight to the store. Loop thread only (the worker touches only its job).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/core/supervisor.h"

namespace hero::core {

// One @flow declaration found by inspect_flow.
struct FlowMeta {
  std::string name, description, docstring;
  std::string inputs_json = "{}", outputs_json = "{}", tags_json = "[]";
  int64_t line = 0;
  std::vector<std::string> secrets;  // @flow(secrets=[...]): names the run asks for
};

class FlowLibrary {
 public:
  FlowLibrary(uv_loop_t* loop, Supervisor* sup, store::Store* store);
  ~FlowLibrary();

  // The @flow declarations of `source` (empty for a plain script). kInvalidArgument
  // "source: <file>:<line>: <message>" for a syntax error; kDeadlineExceeded after 5 s.
  void InspectAsync(std::string source, std::function<void(Result<std::vector<FlowMeta>>)> done);

  // flow_create: metadata from the source; `name` defaults to the @flow's name (a source
  // without @flow needs a name). kAlreadyExists if the name is taken.
  void CreateAsync(std::string name, std::string source, std::string description,
                   std::function<void(Result<store::FlowRecord>)> done);
  // flow_update: adds a version and makes it current. kNotFound for an unknown flow.
  void UpdateAsync(std::string name, std::string source,
                   std::function<void(Result<store::FlowRecord>)> done);

  // Loads every *.py of `dir` into the library (idempotent by name): creates missing flows;
  // adds a version when the file changed and the current version was itself loaded from the
  // directory (tagged "builtin"); never replaces a user's version. `done(count changed)`.
  void LoadBuiltinsAsync(std::string dir, std::function<void(Result<int>)> done);

 private:
  struct InspectJob;
  static Result<std::vector<FlowMeta>> ParseInspectOutput(const std::string& out);
  // The version to store for `source`, choosing the declaration named `name` (else the only
  // or first one); `*chosen_name` gets the flow's name when `name` is empty.
  static store::FlowVersion MakeVersion(const std::string& source,
                                        const std::vector<FlowMeta>& metas, const std::string& name,
                                        std::string* chosen_name);

  uv_loop_t* loop_;
  Supervisor* sup_;
  store::Store* store_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Adds "builtin" to a JSON array of tags (idempotent); HasBuiltinTag tests for it.
std::string WithBuiltinTag(const std::string& tags_json);
bool HasBuiltinTag(const std::string& tags_json);

}  // namespace hero::core
