"""benchmark_flow: run one version of a library flow N times over its saved inputs as child
runs and report success rate, p50/p95 duration, tokens and cost (built-in flow).

Saved inputs are the flow's examples (`example_list`); `inputs` (a list of input objects)
replaces them, and `settings` (an object) is merged into every input (e.g. another model).
`version` picks a stored version (flow_get) and `source` benchmarks a candidate source that
is not in the library (optimize_flow uses it); each run is a child run (play_run_async with the
source and the flow's entry name), one `subflow` span per run. Tokens and cost come from each
run's output (`usage.total_tokens`/`total_tokens`, `cost_usd`, found at any depth). A run
counts as accurate when it ended ok and, if its input entry had `expect` (an object), its
output contains those key/values. Child runs per benchmark are capped by the daemon (20).
"""


import hero_tracing
from hero_tracing import flow

MAX_RUNS = 20


def find_number(obj, keys, depth=0):
    """The first int/float under one of `keys` in a JSON value (depth-first), else None."""
    if depth > 6:
        return None
    if isinstance(obj, dict):
        for k in keys:
            v = obj.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return v
        for v in obj.values():
            r = find_number(v, keys, depth + 1)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj[:50]:
            r = find_number(v, keys, depth + 1)
            if r is not None:
                return r
    return None


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def contains(output, expect):
    if not isinstance(expect, dict):
        return output == expect
    return isinstance(output, dict) and all(
        k in output and contains(output[k], v) for k, v in expect.items())


@flow(name="benchmark_flow",
      description="Benchmark a flow version: run it N times over its saved inputs as child "
                  "runs; report success rate, accuracy, p50/p95 duration, tokens, cost",
      inputs={"flow": str, "version": int, "runs": int, "inputs": list, "settings": dict,
              "source": str, "timeout_ms": int},
      outputs={"flow": str, "version": int, "runs": int, "ok": int, "success_rate": float,
               "accuracy": float, "p50_ms": float, "p95_ms": float, "tokens_total": int,
               "tokens_mean": float, "cost_usd": float, "results": list},
      tags=("benchmark", "evaluation", "versions", "builtin"))
def benchmark_flow(flow, version=None, runs=1, inputs=None, settings=None, source=None,
                   timeout_ms=60000):
    """Benchmarks one version of a library flow (or a candidate source): runs it `runs` times
    over each saved input (examples) as child runs and reports success rate, accuracy,
    duration percentiles (p50, p95), tokens and cost, as tags and as output."""
    sdk = hero_tracing.flow   # the `flow` input shadows the SDK object here
    name = flow
    with sdk.step("resolve") as s:
        if not name:
            raise sdk.Failed("`flow` is required: the library flow to benchmark")
        if runs < 1:
            raise sdk.Failed("runs must be >= 1, not %d" % runs)
        if source is not None and version is not None:
            raise sdk.Failed("give `version` or `source`, not both")
        if source is None:
            params = {"name": name}
            if version is not None:
                params["version"] = version
            try:
                got = sdk.call("flow_get", params)
            except sdk.CallError as e:
                raise sdk.Failed("flow_get %s: %s" % (name, e.message))
            source = got["source"]
            version = got.get("version")
            entry = got.get("entry") or name
        else:
            entry = name
        s.tag(flow=name, version=version, candidate_source=version is None)
    with sdk.step("load_inputs") as s:
        if inputs is None:
            try:
                examples = sdk.call("example_list", {"flow": name}) or []
            except sdk.CallError as e:
                raise sdk.Failed("example_list %s: %s" % (name, e.message))
            cases = [{"name": x.get("name") or "example %s" % x.get("id"),
                      "input": x.get("input") or {}} for x in examples]
            s.tag(source="examples")
        else:
            cases = []
            for i, x in enumerate(inputs):
                if not isinstance(x, dict):
                    raise sdk.Failed("inputs[%d] must be an object" % i)
                if "input" in x and isinstance(x["input"], dict):
                    cases.append({"name": x.get("name") or "input %d" % (i + 1),
                                  "input": x["input"], "expect": x.get("expect")})
                else:
                    cases.append({"name": "input %d" % (i + 1), "input": x})
            s.tag(source="inputs")
        if not cases:
            raise sdk.Failed("flow %s has no saved inputs (example_create) and no `inputs` "
                              "were given" % name)
        if settings:
            for c in cases:
                c["input"] = dict(c["input"], **settings)
        total = len(cases) * runs
        if total > MAX_RUNS:
            raise sdk.Failed("%d inputs x %d runs = %d child runs; the limit is %d per run"
                              % (len(cases), runs, total, MAX_RUNS))
        s.tag(cases=len(cases), runs=total)
    results = []
    with sdk.step("runs"):
        n = 0
        for rep in range(runs):
            for c in cases:
                n += 1
                params = {"source": source, "name": entry, "input": c["input"],
                          "profile": "trusted", "timeout_ms": timeout_ms}
                try:
                    rec = sdk.run_child("run %d" % n, params, case=c["name"], repeat=rep + 1)
                except sdk.Failed as e:
                    rec = getattr(e, "record", None)
                    if rec is None:
                        raise
                dur = max(0, (rec.get("ended_us") or 0) - (rec.get("started_us") or 0)) / 1000.0
                out = rec.get("output")
                ok = rec.get("status") == "ok"
                results.append({
                    "case": c["name"], "run_id": rec.get("id"), "status": rec.get("status"),
                    "reason": rec.get("reason") or "", "duration_ms": round(dur, 1),
                    "tokens": int(find_number(out, ("total_tokens", "tokens")) or 0),
                    "cost_usd": float(find_number(out, ("cost_usd",)) or 0.0),
                    "accurate": ok and (c.get("expect") is None or contains(out, c["expect"]))})
    with sdk.step("stats") as s:
        oks = [r for r in results if r["status"] == "ok"]
        durs = [r["duration_ms"] for r in oks] or [r["duration_ms"] for r in results]
        tokens = sum(r["tokens"] for r in results)
        stats = {
            "runs": len(results), "ok": len(oks),
            "success_rate": round(len(oks) / len(results), 4),
            "accuracy": round(sum(1 for r in results if r["accurate"]) / len(results), 4),
            "p50_ms": percentile(durs, 50), "p95_ms": percentile(durs, 95),
            "tokens_total": tokens, "tokens_mean": round(tokens / len(results), 1),
            "cost_usd": round(sum(r["cost_usd"] for r in results), 8)}
        s.tag(**stats)
    sdk.tag(flow=name, version=version, **stats)
    return dict({"flow": name, "version": version, "results": results}, **stats)
