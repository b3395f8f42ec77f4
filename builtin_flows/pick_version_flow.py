"""pick_version_flow: choose the best version of a flow from benchmark results, weighing
accuracy, speed and cost (built-in flow). Pure computation: no model, no child runs.

`results` is a list of benchmark_flow outputs (or objects with the same fields), each naming
its version (`version`) or candidate (`candidate`). Per result: accuracy = `accuracy` (else
`success_rate`), speed = fastest p50 / this p50 (1 for the fastest), cost = cheapest cost /
this cost (1 when all cost nothing). score = sum(weight x criterion) / sum(weights); default
weights {"accuracy": 0.6, "speed": 0.25, "cost": 0.15}. Ties go to the earlier result.
"""

import hero_tracing
from hero_tracing import flow

DEFAULT_WEIGHTS = {"accuracy": 0.6, "speed": 0.25, "cost": 0.15}


def _label(r, i):
    if r.get("candidate") is not None:
        return str(r["candidate"])
    if r.get("version") is not None:
        return "v%s" % r["version"]
    return "result %d" % (i + 1)


def _num(r, *keys):
    for k in keys:
        v = r.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return None


@flow(name="pick_version_flow",
      description="Choose the best version of a flow from benchmark results with weights "
                  "for accuracy, speed and cost",
      inputs={"flow": str, "results": list, "weights": dict},
      outputs={"flow": str, "best": dict, "ranking": list, "weights": dict},
      tags=("benchmark", "versions", "selection", "builtin"))
def pick_version_flow(flow, results, weights=None):
    """Picks the best version (or candidate) of a flow: normalizes benchmark results (success
    rate or accuracy, p50 duration, cost) and ranks them by a weighted score."""
    sdk = hero_tracing.flow   # the `flow` input shadows the SDK object here
    with sdk.step("validate") as s:
        if not results:
            raise sdk.Failed("`results` is empty: give benchmark_flow outputs to choose from")
        w = dict(DEFAULT_WEIGHTS)
        if weights:
            unknown = sorted(set(weights) - set(DEFAULT_WEIGHTS))
            if unknown:
                raise sdk.Failed("unknown weights %s (known: accuracy, speed, cost)"
                                 % ", ".join(unknown))
            w.update(weights)
        for k, v in w.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise sdk.Failed("weight %s must be a number >= 0, not %r" % (k, v))
        if sum(w.values()) <= 0:
            raise sdk.Failed("the weights sum to 0: give at least one positive weight")
        rows = []
        for i, r in enumerate(results):
            if not isinstance(r, dict):
                raise sdk.Failed("results[%d] must be an object" % i)
            acc = _num(r, "accuracy", "success_rate")
            if acc is None:
                raise sdk.Failed("results[%d] (%s) has no accuracy or success_rate"
                                 % (i, _label(r, i)))
            rows.append({"label": _label(r, i), "version": r.get("version"),
                         "candidate": r.get("candidate"), "accuracy": acc,
                         "p50_ms": _num(r, "p50_ms") or 0.0,
                         "cost_usd": _num(r, "cost_usd") or 0.0,
                         "settings": r.get("settings")})
        s.tag(results=len(rows))
    with sdk.step("score"):
        fastest = min((x["p50_ms"] for x in rows if x["p50_ms"] > 0), default=0.0)
        cheapest = min((x["cost_usd"] for x in rows if x["cost_usd"] > 0), default=0.0)
        total_w = float(sum(w.values()))
        for x in rows:
            speed = 1.0 if x["p50_ms"] <= 0 or fastest <= 0 else fastest / x["p50_ms"]
            cost = 1.0 if x["cost_usd"] <= 0 or cheapest <= 0 else cheapest / x["cost_usd"]
            x["speed"] = round(speed, 4)
            x["cost"] = round(cost, 4)
            x["score"] = round((w["accuracy"] * x["accuracy"] + w["speed"] * speed +
                                w["cost"] * cost) / total_w, 4)
    with sdk.step("choose") as s:
        ranking = sorted(rows, key=lambda x: -x["score"])   # stable: ties keep input order
        best = ranking[0]
        s.tag(best=best["label"], score=best["score"])
    sdk.tag(best=best["label"], score=best["score"])
    return {"flow": flow, "best": best, "ranking": ranking, "weights": w}
