// FlowLibrary implementation. The inspect helper is spawned on the loop thread (so its pid is
// registered with the Supervisor before it can exit: the orphan reaper must not reap it) and
// then fed, read and reaped by a libuv worker thread with a 5 s deadline.
#include "supervisor/core/flow_library.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "supervisor/base/json_writer.h"
#include "supervisor/loop/work.h"

namespace hero::core {
namespace {

constexpr size_t kMaxInspectOutput = 4u << 20;
constexpr auto kInspectTimeout = std::chrono::seconds(5);

std::string Minify(simdjson::dom::element e) { return simdjson::minify(e); }

}  // namespace

struct FlowLibrary::InspectJob {
  FlowLibrary* lib = nullptr;
  std::weak_ptr<bool> alive;
  pid_t pid = -1;
  UniqueFd in_w, out_r;
  std::string source;
  std::string out;
  bool timed_out = false;
  std::function<void(Result<std::vector<FlowMeta>>)> done;
};

FlowLibrary::FlowLibrary(uv_loop_t* loop, Supervisor* sup, store::Store* store)
    : loop_(loop), sup_(sup), store_(store) {}

FlowLibrary::~FlowLibrary() { *alive_ = false; }

void FlowLibrary::InspectAsync(std::string source,
                               std::function<void(Result<std::vector<FlowMeta>>)> done) {
  auto in = MakePipe();
  auto out = MakePipe();
  auto devnull = OpenFile("/dev/null", O_RDWR);
  if (!in.ok() || !out.ok() || !devnull.ok()) {
    done(ResourceExhausted("cannot create pipes for inspect_flow"));
    return;
  }
  const SupervisorConfig& cfg = sup_->config();
  SpawnSpec spec;
  spec.path = cfg.python;
  spec.argv = {cfg.python, "-S", "-m", "hero_tracing.inspect_flow", "/dev/stdin"};
  spec.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1",
              "PYTHONPATH=" + cfg.sdk_dir};
  spec.fd_map = {{in->first.get(), 0}, {out->second.get(), 1}, {devnull->get(), 2}};
  auto proc = sup_->launcher()->Spawn(spec);
  if (!proc.ok()) {
    done(proc.status().WithContext("inspect_flow"));
    return;
  }
  sup_->TrackPid(proc->pid);
  auto job = std::make_shared<InspectJob>();
  job->lib = this;
  job->alive = alive_;
  job->pid = proc->pid;
  job->in_w = std::move(in->second);
  job->out_r = std::move(out->first);
  job->source = std::move(source);
  job->done = std::move(done);
  // The child's ends close here (in, out and devnull go out of scope): EOF must come.
  loop::QueueWork(
      loop_,
      [job] {
        InspectJob* j = job.get();
        (void)SetNonBlocking(j->in_w.get(), true);
        (void)SetNonBlocking(j->out_r.get(), true);
        auto deadline = std::chrono::steady_clock::now() + kInspectTimeout;
        size_t written = 0;
        char buf[65536];
        while (j->out_r) {
          if (j->in_w && written == j->source.size()) j->in_w.Reset();
          struct pollfd fds[2];
          int n = 0;
          fds[n++] = {j->out_r.get(), POLLIN, 0};
          if (j->in_w) fds[n++] = {j->in_w.get(), POLLOUT, 0};
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now());
          if (left.count() <= 0) {
            j->timed_out = true;
            break;
          }
          int rc = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(left.count()));
          if (rc < 0 && errno == EINTR) continue;
          if (rc < 0) break;
          if (n == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w =
                ::write(j->in_w.get(), j->source.data() + written, j->source.size() - written);
            if (w > 0) {
              written += static_cast<size_t>(w);
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
              j->in_w.Reset();  // the child stopped reading (EPIPE): it will answer anyway
            }
          }
          if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t got = ::read(j->out_r.get(), buf, sizeof buf);
            if (got > 0) {
              if (j->out.size() < kMaxInspectOutput) j->out.append(buf, static_cast<size_t>(got));
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
              j->out_r.Reset();
            }
          }
        }
        if (j->timed_out) ::kill(j->pid, SIGKILL);
        j->in_w.Reset();
        j->out_r.Reset();
        int st = 0;
        while (::waitpid(j->pid, &st, 0) < 0 && errno == EINTR) {
        }
      },
      [job] {
        InspectJob* j = job.get();
        auto alive = j->alive.lock();
        if (!alive || !*alive) return;
        j->lib->sup_->UntrackPid(j->pid);
        if (j->timed_out) {
          j->done(
              Status(StatusCode::kDeadlineExceeded, "inspecting the source took longer than 5 s"));
          return;
        }
        j->done(ParseInspectOutput(j->out));
      });
}

Result<std::vector<FlowMeta>> FlowLibrary::ParseInspectOutput(const std::string& out) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(out).get(doc) != simdjson::SUCCESS) {
    return Internal("inspect_flow gave no JSON answer");
  }
  std::string_view err;
  if (doc["error"].get_string().get(err) == simdjson::SUCCESS) {
    return InvalidArgument("source: " + std::string(err));
  }
  simdjson::dom::array flows;
  if (doc["flows"].get_array().get(flows) != simdjson::SUCCESS)
    return Internal("inspect_flow: no \"flows\"");
  std::vector<FlowMeta> metas;
  for (simdjson::dom::element f : flows) {
    FlowMeta m;
    std::string_view sv;
    if (f["name"].get_string().get(sv) == simdjson::SUCCESS) m.name = std::string(sv);
    if (f["description"].get_string().get(sv) == simdjson::SUCCESS) m.description = std::string(sv);
    if (f["docstring"].get_string().get(sv) == simdjson::SUCCESS) m.docstring = std::string(sv);
    simdjson::dom::element e;
    if (f["inputs"].get(e) == simdjson::SUCCESS && e.is_object()) m.inputs_json = Minify(e);
    if (f["outputs"].get(e) == simdjson::SUCCESS && e.is_object()) m.outputs_json = Minify(e);
    if (f["tags"].get(e) == simdjson::SUCCESS && e.is_array()) m.tags_json = Minify(e);
    simdjson::dom::array secrets;
    if (f["secrets"].get_array().get(secrets) == simdjson::SUCCESS) {
      for (simdjson::dom::element s : secrets) {
        if (s.get_string().get(sv) == simdjson::SUCCESS) m.secrets.emplace_back(sv);
      }
    }
    int64_t line = 0;
    if (f["line"].get_int64().get(line) == simdjson::SUCCESS) m.line = line;
    if (!m.name.empty()) metas.push_back(std::move(m));
  }
  return metas;
}

store::FlowVersion FlowLibrary::MakeVersion(const std::string& source,
                                            const std::vector<FlowMeta>& metas,
                                            const std::string& name, std::string* chosen_name) {
  store::FlowVersion v;
  v.source = source;
  const FlowMeta* m = nullptr;
  for (const auto& x : metas) {
    if (!name.empty() && x.name == name) m = &x;
  }
  if (!m && !metas.empty()) m = &metas.front();
  if (m) {
    v.description = m->description;
    v.docstring = m->docstring;
    v.inputs_json = m->inputs_json;
    v.outputs_json = m->outputs_json;
    v.tags_json = m->tags_json;
    v.line = m->line;
    // Boot needs --name only when the file declares several flows; naming it always is exact.
    v.entry = m->name;
  }
  if (chosen_name) *chosen_name = name.empty() && m ? m->name : name;
  return v;
}

void FlowLibrary::CreateAsync(std::string name, std::string source, std::string description,
                              std::function<void(Result<store::FlowRecord>)> done) {
  std::string src = source;
  InspectAsync(
      std::move(src), [this, alive = std::weak_ptr<bool>(alive_), name = std::move(name),
                       source = std::move(source), description = std::move(description),
                       done = std::move(done)](Result<std::vector<FlowMeta>> metas) mutable {
        if (!metas.ok()) {
          done(metas.status());
          return;
        }
        std::string chosen;
        store::FlowVersion v = MakeVersion(source, *metas, name, &chosen);
        if (chosen.empty()) {
          done(InvalidArgument("name: required for a source without a @flow declaration"));
          return;
        }
        if (!description.empty()) v.description = description;
        store_->CreateFlow(
            chosen, std::move(v), [chosen, done = std::move(done)](Result<store::FlowRecord> r) {
              if (!r.ok() && r.status().code() == StatusCode::kAlreadyExists) {
                done(Status(StatusCode::kAlreadyExists,
                            "flow '" + chosen + "' already exists; flow_update adds a version"));
                return;
              }
              done(std::move(r));
            });
      });
}

void FlowLibrary::UpdateAsync(std::string name, std::string source,
                              std::function<void(Result<store::FlowRecord>)> done) {
  std::string src = source;
  InspectAsync(
      std::move(src), [this, name = std::move(name), source = std::move(source),
                       done = std::move(done)](Result<std::vector<FlowMeta>> metas) mutable {
        if (!metas.ok()) {
          done(metas.status());
          return;
        }
        store::FlowVersion v = MakeVersion(source, *metas, name, nullptr);
        store_->AddFlowVersion(name, std::move(v), true,
                               [name, done = std::move(done)](Result<store::FlowRecord> r) {
                                 if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
                                   done(NotFound("flow '" + name + "' not found"));
                                   return;
                                 }
                                 done(std::move(r));
                               });
      });
}

void FlowLibrary::LoadBuiltinsAsync(std::string dir, std::function<void(Result<int>)> done) {
  namespace fs = std::filesystem;
  // Start-up only, before the daemon serves: reading a few small files here is fine.
  struct File {
    std::string stem, source;
  };
  auto files = std::make_shared<std::vector<File>>();
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() != ".py" || e.path().filename().string().starts_with("_")) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      files->push_back({e.path().stem().string(), ss.str()});
    }
  }
  std::sort(files->begin(), files->end(),
            [](const File& a, const File& b) { return a.stem < b.stem; });
  auto changed = std::make_shared<int>(0);
  auto step = std::make_shared<std::function<void(size_t)>>();
  *step = [this, files, changed, step, done = std::move(done)](size_t i) mutable {
    if (i >= files->size()) {
      auto keep = step;  // `*step` is running: release the cycle after it returns
      done(*changed);
      *keep = nullptr;
      return;
    }
    const File& f = (*files)[i];
    InspectAsync(f.source, [this, files, changed, step, i](Result<std::vector<FlowMeta>> metas) {
      const File& file = (*files)[i];
      if (!metas.ok()) {
        (*step)(i + 1);  // a broken builtin is skipped, the others still load
        return;
      }
      std::string name;
      store::FlowVersion v = MakeVersion(file.source, *metas, "", &name);
      if (name.empty()) name = file.stem;
      v.tags_json = WithBuiltinTag(v.tags_json);
      store_->GetFlow(
          name, 0, [this, changed, step, i, name, v](Result<store::FlowRecord> cur) mutable {
            if (!cur.ok()) {
              store_->CreateFlow(name, std::move(v),
                                 [changed, step, i](Result<store::FlowRecord> r) {
                                   if (r.ok()) ++*changed;
                                   (*step)(i + 1);
                                 });
              return;
            }
            if (cur->current.source == v.source || !HasBuiltinTag(cur->current.tags_json)) {
              (*step)(i + 1);  // unchanged, or a user's version: never overwritten
              return;
            }
            store_->AddFlowVersion(name, std::move(v), true,
                                   [changed, step, i](Result<store::FlowRecord> r) {
                                     if (r.ok()) ++*changed;
                                     (*step)(i + 1);
                                   });
          });
    });
  };
  (*step)(0);
}

std::string WithBuiltinTag(const std::string& tags_json) {
  if (HasBuiltinTag(tags_json)) return tags_json;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  JsonWriter w;
  w.BeginArray();
  simdjson::dom::array arr;
  if (parser.parse(tags_json).get(doc) == simdjson::SUCCESS &&
      doc.get_array().get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element t : arr) w.Raw(simdjson::minify(t));
  }
  w.String("builtin");
  w.EndArray();
  return w.Take();
}

bool HasBuiltinTag(const std::string& tags_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  if (parser.parse(tags_json).get(doc) != simdjson::SUCCESS ||
      doc.get_array().get(arr) != simdjson::SUCCESS) {
    return false;
  }
  for (simdjson::dom::element t : arr) {
    std::string_view s;
    if (t.get_string().get(s) == simdjson::SUCCESS && s == "builtin") return true;
  }
  return false;
}

}  // namespace hero::core
