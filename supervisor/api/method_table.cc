// MethodTable, Params and Reply. Loop thread only.
#include "supervisor/api/method_table.h"

#include <utility>

#include "supervisor/base/check.h"

namespace hero::api {

std::string_view ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kString:
      return "string";
    case ParamType::kInteger:
      return "integer";
    case ParamType::kNumber:
      return "number";
    case ParamType::kBoolean:
      return "boolean";
    case ParamType::kObject:
      return "object";
    case ParamType::kArray:
      return "array";
    case ParamType::kAny:
      return "any";
  }
  return "any";
}

const Params::Entry& Params::Find(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return e;
  }
  std::fprintf(stderr, "Params: method does not declare param \"%.*s\"\n",
               static_cast<int>(name.size()), name.data());
  HERO_CHECK(false && "undeclared param");
  std::abort();
}

bool Params::Has(std::string_view name) const { return Find(name).present; }

std::string_view Params::GetString(std::string_view name, std::string_view fallback) const {
  const Entry& e = Find(name);
  HERO_CHECK(e.type == ParamType::kString);
  return e.present ? std::string_view(e.text) : fallback;
}

int64_t Params::GetInt(std::string_view name, int64_t fallback) const {
  const Entry& e = Find(name);
  HERO_CHECK(e.type == ParamType::kInteger);
  return e.present ? e.integer : fallback;
}

double Params::GetNumber(std::string_view name, double fallback) const {
  const Entry& e = Find(name);
  HERO_CHECK(e.type == ParamType::kNumber || e.type == ParamType::kInteger);
  if (!e.present) return fallback;
  return e.type == ParamType::kInteger ? static_cast<double>(e.integer) : e.number;
}

bool Params::GetBool(std::string_view name, bool fallback) const {
  const Entry& e = Find(name);
  HERO_CHECK(e.type == ParamType::kBoolean);
  return e.present ? e.boolean : fallback;
}

std::string_view Params::GetJson(std::string_view name, std::string_view fallback) const {
  const Entry& e = Find(name);
  HERO_CHECK(e.type == ParamType::kObject || e.type == ParamType::kArray ||
             e.type == ParamType::kAny);
  return e.present ? std::string_view(e.text) : fallback;
}

Reply& Reply::operator=(Reply&& o) noexcept {
  if (this != &o) {
    if (fn_) (*this)(Status(StatusCode::kInternal, "the handler dropped its reply"));
    fn_ = std::exchange(o.fn_, nullptr);
  }
  return *this;
}

Reply::~Reply() {
  if (fn_) (*this)(Status(StatusCode::kInternal, "the handler dropped its reply"));
}

void Reply::operator()(Result<std::string> result) {
  HERO_CHECK(fn_ && "Reply invoked twice");
  Fn fn = std::exchange(fn_, nullptr);
  fn(std::move(result));
}

Status MethodTable::Add(MethodSpec spec) {
  if (spec.name.empty()) return InvalidArgument("method name is empty");
  if (spec.name.rfind("rpc.", 0) == 0) {
    return InvalidArgument("method name \"" + spec.name + "\" uses the reserved prefix rpc.");
  }
  if (!spec.handler) return InvalidArgument("method \"" + spec.name + "\" has no handler");
  if (index_.count(spec.name) != 0) {
    return Status(StatusCode::kAlreadyExists, "method \"" + spec.name + "\" is already registered");
  }
  for (size_t i = 0; i < spec.params.size(); ++i) {
    if (spec.params[i].name.empty()) {
      return InvalidArgument("method \"" + spec.name + "\" has a param with an empty name");
    }
    for (size_t j = 0; j < i; ++j) {
      if (spec.params[j].name == spec.params[i].name) {
        return InvalidArgument("method \"" + spec.name + "\" declares param \"" +
                               spec.params[i].name + "\" twice");
      }
    }
  }
  if (spec.result_schema_json.empty()) spec.result_schema_json = "{}";
  index_.emplace(spec.name, methods_.size());
  methods_.push_back(std::move(spec));
  return Status::Ok();
}

const MethodSpec* MethodTable::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &methods_[it->second];
}

}  // namespace hero::api
