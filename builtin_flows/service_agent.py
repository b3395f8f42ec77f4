"""service_agent: the agent pipeline (built-in flow). Library first: search the flow library
for the intent and, when a flow matches well, run it as a child run and stop. Otherwise pick
the services the intent needs from interface files, generate a script (service_code_gen), run
it as a child run in the `untrusted` sandbox, feed a failure back to the generator and retry
(bounded), and summarize.

Match: the share of the intent's words (minus stop words) found in a hit's name, description
and snippet; `threshold` (default 0.75) decides. Built-in meta flows are never matches.
Services: every subdirectory of `services_dir` with a `description.md` and Python client stubs
(`*.py`) is a service; the default is the `services/` directory next to this file (a
checkout), which ships `hero_logic` (the daemon's own JSON-RPC client). In the daemon the flow
source is staged alone, so give `services_dir` (an absolute path; trusted runs see the host).
Needs a hero_logic daemon: the library search and the child runs go over the `call` channel.
`endpoint` goes to the model (see model_call).
"""

import os
import re

import hero_tracing
from hero_tracing import flow

STOP_WORDS = frozenset(
    "a an and are as at be by do does for from how i in into is it its me my of on or please "
    "run that the then this to up use using what when which with you your".split())
# Built-in flows that are tools of the agent, not answers to an intent.
NEVER_MATCH = frozenset(["service_agent", "service_code_gen", "benchmark_flow",
                         "pick_version_flow", "optimize_flow", "model_call"])


def _use_sibling(name):
    """Registers built-in flow `name` from this file's directory when it is there (a checkout:
    `hero_logic run builtin_flows/...` or plain python3). In the daemon this source is staged
    alone and flow.invoke fetches `name` from the library (flow_get) instead."""
    if name in hero_tracing.registry:
        return
    path = os.path.join(_here(), name + ".py")
    if os.path.isfile(path):
        import importlib.util
        spec = importlib.util.spec_from_file_location("hero_builtin_" + name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)


def _here():
    return os.path.dirname(os.path.abspath(_use_sibling.__code__.co_filename))


def terms(text):
    """Lower-case words of `text` (split on non-alphanumerics and `_`) minus stop words."""
    return [w for w in re.findall(r"[a-z0-9]+", (text or "").lower())
            if len(w) > 1 and w not in STOP_WORDS]


def _word_match(t, words):
    if t in words:
        return True
    if len(t) < 4:
        return False
    return any(len(w) >= 4 and (w.startswith(t) or t.startswith(w)) for w in words)


def match_score(intent_terms, text):
    """Share (0..1) of `intent_terms` found in `text` (a word, or a prefix of 4+ letters)."""
    if not intent_terms:
        return 0.0
    words = set(terms(text))
    uniq = list(dict.fromkeys(intent_terms))
    return round(sum(1 for t in uniq if _word_match(t, words)) / len(uniq), 3)


def load_services(services_dir):
    """[{name, description, interface}] of every service directory, sorted by name."""
    out = []
    for name in sorted(os.listdir(services_dir)):
        d = os.path.join(services_dir, name)
        desc_path = os.path.join(d, "description.md")
        if not os.path.isfile(desc_path):
            continue
        with open(desc_path, encoding="utf-8") as f:
            desc = f.read()
        stubs = []
        for fn in sorted(os.listdir(d)):
            if fn.endswith(".py"):
                with open(os.path.join(d, fn), encoding="utf-8") as f:
                    stubs.append("%s:\n```python\n%s```" % (fn, f.read()))
        out.append({"name": name, "description": desc,
                    "interface": "Service %s:\n%s\n%s" % (name, desc.strip(), "\n".join(stubs))})
    return out


def failure_text(rec):
    """What the generator sees of a failed run: the reason and the last stderr lines."""
    text = rec.get("reason") or "the script failed (%s)" % rec.get("status")
    tail = [l for l in (rec.get("stderr_tail") or "").splitlines() if l.strip()][-8:]
    if tail:
        text += "\nstderr (last lines):\n" + "\n".join(tail)
    return text


@flow(name="service_agent",
      description="Agent: fulfil an intent: reuse a library flow when one matches, else "
                  "generate a script against service interfaces, run it sandboxed, debug "
                  "and retry",
      inputs={"intent": str, "services_dir": str, "flow_input": dict, "script_input": dict,
              "model": str, "endpoint": str, "threshold": float, "max_attempts": int,
              "timeout_ms": int, "network": bool},
      outputs={"mode": str, "flow": str, "run_id": int, "status": str, "output": object,
               "attempts": int, "code": str, "services": list, "summary": str},
      tags=("agent", "router", "codegen", "builtin"),
      secrets=["HERO_AIBROKER_KEY", "HERO_AIBROKER_URL"])  # model_call runs in this process
def service_agent(intent, services_dir=None, flow_input=None, script_input=None,
                  model="gpt-4o-mini", endpoint=None, threshold=0.75, max_attempts=2,
                  timeout_ms=30000, network=False):
    """The agent: given an intent in plain words, first searches the flow library and runs a
    matching flow; otherwise selects services, writes a Python script for them with the model,
    runs it in the untrusted sandbox, and on failure debugs and retries. Returns what ran, its
    output and a summary."""
    if not intent or not intent.strip():
        raise flow.Failed("`intent` is empty: say what should be done")
    if max_attempts < 1 or max_attempts > 5:
        raise flow.Failed("max_attempts must be between 1 and 5, not %d" % max_attempts)
    want = terms(intent)

    with flow.step("library_search") as s:
        try:
            hits = flow.call("flow_library_search", {"query": intent, "limit": 10}) or []
        except flow.CallError as e:
            raise flow.Failed("the library search needs a hero_logic daemon: %s" % e.message)
        best, best_score = None, 0.0
        for h in hits:
            if h.get("name") in NEVER_MATCH:
                continue
            m = match_score(want, " ".join(str(h.get(k) or "") for k in
                                           ("name", "description", "snippet")))
            if m > best_score:
                best, best_score = h, m
        s.tag(hits=len(hits), best=best.get("name") if best else None, match=best_score,
              threshold=threshold)

    if best is not None and best_score >= threshold:
        name = best["name"]
        with flow.step("run_library_flow", flow=name, match=best_score):
            rec = flow.run_child("run " + name, {"flow": name, "input": flow_input or {},
                                            "timeout_ms": timeout_ms}, flow=name)
        with flow.step("summarize"):
            summary = "library flow %s matched the intent (%.0f%% of its words) and ran ok " \
                      "as run %s" % (name, best_score * 100, rec.get("id"))
            flow.log(summary)
        return {"mode": "library", "flow": name, "run_id": rec.get("id"), "status": "ok",
                "output": rec.get("output"), "attempts": 1, "code": "", "services": [],
                "summary": summary}

    with flow.step("select_services") as s:
        sdir = services_dir
        if not sdir or not os.path.isdir(sdir):
            # The supervisor stages builtin_flows/services next to the SDK, where every run
            # (trusted, or untrusted at /hero/rt) can read it; a checkout keeps it beside us.
            import hero_tracing
            staged = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(hero_tracing.__file__)))), "services")
            for cand in ([sdir] if sdir else []) + [staged, os.path.join(_here(), "services")]:
                if cand and os.path.isdir(cand):
                    sdir = cand
                    break
        if not os.path.isdir(sdir):
            raise flow.Failed("services directory %s does not exist: give `services_dir` (in "
                              "the daemon, the absolute path of builtin_flows/services)" % sdir)
        scored = [(match_score(want, sv["description"] + " " + sv["name"]), sv)
                  for sv in load_services(sdir)]
        chosen = [sv for m, sv in sorted(scored, key=lambda x: -x[0]) if m >= 0.25][:2]
        s.tag(available=len(scored), selected=[sv["name"] for sv in chosen])
    interface = "\n\n".join(sv["interface"] for sv in chosen)

    _use_sibling("service_code_gen")
    error = code = None
    for n in range(1, max_attempts + 1):
        try:
            with flow.step("attempt %d" % n):
                gen = {"intent": intent, "interface": interface, "model": model}
                if endpoint:
                    gen["endpoint"] = endpoint
                if error:
                    gen.update(error=error, previous_code=code)
                code = flow.invoke("service_code_gen", **gen)["code"]
                rec = flow.run_child("run_script", {"source": code, "input": script_input or {},
                                               "profile": "untrusted", "timeout_ms": timeout_ms,
                                               "network": bool(network)}, attempt=n)
        except flow.Failed as e:
            failed_run = getattr(e, "record", None)
            if failed_run is None:   # the generator failed (model error, no compilable code)
                raise
            error = failure_text(failed_run)
            if n == max_attempts:
                raise flow.Failed("the generated script still fails after %d attempts: %s"
                                  % (n, e))
            continue
        with flow.step("summarize"):
            summary = "generated a script%s; it ran ok as run %s on attempt %d" % (
                " for " + ", ".join(sv["name"] for sv in chosen) if chosen else "",
                rec.get("id"), n)
            flow.log(summary)
        return {"mode": "generated", "flow": "", "run_id": rec.get("id"), "status": "ok",
                "output": rec.get("output"),  # a plain script's prints are in its run's logs
                "attempts": n, "code": code,
                "services": [sv["name"] for sv in chosen], "summary": summary}
