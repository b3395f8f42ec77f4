"""service_code_gen: from an intent and a service interface, write a Python script with a
language model (the model_call flow), check that it compiles, and return it (built-in flow).

The model is asked for one self-contained, stdlib-only script in a ```python block; the block is
extracted and compiled with compile(). A script that does not compile is sent back to the
model with the compiler's message, up to `max_attempts` attempts in all. `error` and
`previous_code` (from service_agent's debug loop) ask for a fix of a script that compiled but
failed when run. `endpoint` is passed to model_call (see model_call for the endpoint rules).
"""

import os
import re

from hero_tracing import flow

SYSTEM_PROMPT = (
    "You write one self-contained Python 3 script using only the standard library. It does "
    "what the intent asks, using the service interface when one is given (copy the client "
    "code you need into the script). The script runs in a sandbox with no network and no "
    "other files. Put the work in a function decorated with `@flow` (from hero_tracing "
    "import flow) that returns the result as JSON-able data; raise an exception on failure. "
    "Reply with exactly one ```python code block and nothing else.")

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)


def _use_sibling(name):
    """Registers built-in flow `name` from this file's directory when it is there (a checkout:
    `hero_logic run builtin_flows/...` or plain python3). In the daemon this source is staged
    alone and flow.invoke fetches `name` from the library (flow_get) instead."""
    import hero_tracing
    if name in hero_tracing.registry:
        return
    path = os.path.join(os.path.dirname(os.path.abspath(_use_sibling.__code__.co_filename)),
                        name + ".py")
    if os.path.isfile(path):
        import importlib.util
        spec = importlib.util.spec_from_file_location("hero_builtin_" + name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)


def extract_code(text):
    """The first fenced code block of `text` (python/py or unlabeled), else the whole text."""
    m = _FENCE.search(text or "")
    code = m.group(1) if m else (text or "")
    return code.strip("\n") + "\n"


def first_prompt(intent, interface, error, previous_code):
    parts = ["Intent: " + intent.strip()]
    if interface and interface.strip():
        parts.append("Service interface:\n" + interface.strip())
    if previous_code:
        parts.append("A previous script:\n```python\n" + previous_code.strip("\n") + "\n```")
    if error:
        parts.append("It failed when run:\n" + error.strip() +
                     "\nFix the script so it does what the intent asks.")
    return "\n\n".join(parts)


@flow(name="service_code_gen",
      description="Write a Python script for an intent against a service interface with an "
                  "LLM, check that it compiles, return it (code generation)",
      inputs={"intent": str, "interface": str, "model": str, "endpoint": str,
              "max_attempts": int, "error": str, "previous_code": str},
      outputs={"code": str, "attempts": int, "model": str, "total_tokens": int},
      tags=("codegen", "llm", "agent", "builtin"),
      secrets=["HERO_AIBROKER_KEY", "HERO_AIBROKER_URL"])  # model_call runs in this process
def service_code_gen(intent, interface="", model="gpt-4o-mini", endpoint=None, max_attempts=2,
                     error=None, previous_code=None):
    """Generates code: asks the model for a Python script that fulfils the intent using the
    given service interface (client stubs and descriptions), extracts the code block, compiles
    it, and retries with the compile error. Returns the script source."""
    with flow.step("prompt") as s:
        if not intent or not intent.strip():
            raise flow.Failed("`intent` is empty: say what the script should do")
        if max_attempts < 1 or max_attempts > 5:
            raise flow.Failed("max_attempts must be between 1 and 5, not %d" % max_attempts)
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": first_prompt(intent, interface, error,
                                                             previous_code)}]
        s.tag(interface_chars=len(interface or ""), fix=bool(error))
    _use_sibling("model_call")
    call = {"model": model, "messages": None}
    if endpoint:
        call["endpoint"] = endpoint
    tokens = 0
    last_error = None
    for n in range(1, max_attempts + 1):
        try:
            with flow.step("attempt %d" % n):
                call["messages"] = list(messages)
                answer = flow.invoke("model_call", **call)
                tokens += int((answer.get("usage") or {}).get("total_tokens") or 0)
                with flow.step("extract") as s:
                    code = extract_code(answer.get("content"))
                    s.tag(lines=code.count("\n"), fenced=bool(_FENCE.search(
                        answer.get("content") or "")))
                with flow.step("compile"):
                    compile(code, "generated.py", "exec", dont_inherit=True)
        except SyntaxError as e:
            last_error = "%s: %s (line %s)" % (type(e).__name__, e.msg, e.lineno)
            messages += [{"role": "assistant", "content": answer.get("content") or ""},
                         {"role": "user", "content": "That script does not compile: " +
                          last_error + ". Reply with the corrected script in one ```python "
                          "block."}]
            continue
        flow.tag(attempts=n, total_tokens=tokens, model=model)
        return {"code": code, "attempts": n, "model": model, "total_tokens": tokens}
    flow.tag(attempts=max_attempts, total_tokens=tokens, model=model)
    raise flow.Failed("the generated script does not compile after %d attempts: %s"
                      % (max_attempts, last_error))
