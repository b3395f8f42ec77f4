"""optimize_flow: try candidate versions of a flow (e.g. other model settings), benchmark each
and pick the best (built-in flow).

A candidate is {"name": N, "settings": {...}} (input overrides merged into every benchmark
input, e.g. {"model": "gpt-4o"}) and/or {"name": N, "source": "..."} (another source of the
flow). The current library version runs first as candidate "current". Each candidate is
benchmarked by a benchmark_flow child run (benchmark_flow with `source`, so a candidate need
not be stored in the library), then pick_version_flow ranks them with `weights`.

The library is not changed: the call channel allows no flow_create/flow_update, so the
winner's settings/source are returned (`best`) for the caller to store with flow_update.
"""

import os

import hero_tracing
from hero_tracing import flow

MAX_CANDIDATES = 6


def _use_sibling(name):
    """Registers built-in flow `name` from this file's directory when it is there (a checkout:
    `hero_logic run builtin_flows/...` or plain python3). In the daemon this source is staged
    alone and flow.invoke fetches `name` from the library (flow_get) instead."""
    if name in hero_tracing.registry:
        return
    path = os.path.join(os.path.dirname(os.path.abspath(_use_sibling.__code__.co_filename)),
                        name + ".py")
    if os.path.isfile(path):
        import importlib.util
        spec = importlib.util.spec_from_file_location("hero_builtin_" + name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)


@flow(name="optimize_flow",
      description="Optimize a flow: create candidate versions (other model settings or "
                  "sources), benchmark each, pick the best by accuracy, speed and cost",
      inputs={"flow": str, "candidates": list, "weights": dict, "runs": int, "inputs": list,
              "include_current": bool, "timeout_ms": int},
      outputs={"flow": str, "best": dict, "ranking": list, "benchmarks": list},
      tags=("optimize", "benchmark", "versions", "builtin"))
def optimize_flow(flow, candidates, weights=None, runs=1, inputs=None, include_current=True,
                  timeout_ms=60000):
    """Optimizes a library flow: builds candidate versions from settings (e.g. another model)
    or sources, benchmarks every candidate as a child run over the saved inputs, and picks the
    best version with weights for accuracy, speed and cost."""
    sdk = hero_tracing.flow   # the `flow` input shadows the SDK object here
    with sdk.step("candidates") as s:
        if not flow:
            raise sdk.Failed("`flow` is required: the library flow to optimize")
        cands = [{"name": "current"}] if include_current else []
        seen = {c["name"] for c in cands}
        for i, c in enumerate(candidates or []):
            if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
                raise sdk.Failed("candidates[%d] must be an object with a `name`" % i)
            if c["name"] in seen:
                raise sdk.Failed("candidate name %r is used twice" % c["name"])
            if c.get("settings") is not None and not isinstance(c["settings"], dict):
                raise sdk.Failed("candidates[%d].settings must be an object" % i)
            if c.get("source") is not None and not isinstance(c["source"], str):
                raise sdk.Failed("candidates[%d].source must be a string" % i)
            if c.get("source") is not None:
                try:
                    compile(c["source"], "candidate %s" % c["name"], "exec", dont_inherit=True)
                except SyntaxError as e:
                    raise sdk.Failed("candidate %s does not compile: line %s: %s"
                                     % (c["name"], e.lineno, e.msg))
            seen.add(c["name"])
            cands.append(c)
        if len(cands) < 2:
            raise sdk.Failed("nothing to compare: give candidates (with include_current, at "
                             "least one; without it, at least two)")
        if len(cands) > MAX_CANDIDATES:
            raise sdk.Failed("%d candidates; at most %d" % (len(cands), MAX_CANDIDATES))
        s.tag(candidates=[c["name"] for c in cands])
    benchmarks = []
    for c in cands:
        with sdk.step("candidate %s" % c["name"]) as s:
            args = {"flow": flow, "runs": runs, "timeout_ms": timeout_ms}
            if c.get("settings"):
                args["settings"] = c["settings"]
            if c.get("source") is not None:
                args["source"] = c["source"]
            if inputs is not None:
                args["inputs"] = inputs
            out = sdk.invoke("benchmark_flow", spawn=True, **args)
            out = dict(out, candidate=c["name"], settings=c.get("settings"))
            s.tag(success_rate=out.get("success_rate"), p50_ms=out.get("p50_ms"),
                  tokens_total=out.get("tokens_total"))
            benchmarks.append(out)
    _use_sibling("pick_version_flow")
    picked = sdk.invoke("pick_version_flow", flow=flow, weights=weights or None,
                        results=[{k: b.get(k) for k in ("candidate", "version", "settings",
                                                        "accuracy", "success_rate", "p50_ms",
                                                        "cost_usd")} for b in benchmarks])
    best = dict(picked["best"])
    src = next((c.get("source") for c in cands if c["name"] == best.get("candidate")), None)
    if src is not None:
        best["source"] = src
    sdk.tag(best=best.get("label"), score=best.get("score"))
    return {"flow": flow, "best": best, "ranking": picked["ranking"],
            "benchmarks": [{k: v for k, v in b.items() if k != "results"} for b in benchmarks]}
