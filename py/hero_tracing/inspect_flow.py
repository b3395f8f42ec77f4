"""`python3 -m hero_tracing.inspect_flow FLOW.py`: prints the file's @flow declarations as
JSON, using `ast` only (the file is never executed). Exit 2 with {"error": ...} when the file
cannot be read or parsed."""

import ast
import json
import sys


def _is_flow_decorator(node):
    """`flow`, `x.flow`, or a call of either."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id == "flow"
    if isinstance(target, ast.Attribute):
        return target.attr == "flow"
    return False


def _type_text(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    if isinstance(node, ast.Name):
        return node.id
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse exists from 3.9
        return "object"
    return text[7:] if text.startswith("typing.") else text


def _const(node, default=None):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return default


def _type_map(node):
    if not isinstance(node, ast.Dict):
        return None
    out = {}
    for k, v in zip(node.keys, node.values):
        key = _const(k) if k is not None else None
        if isinstance(key, str):
            out[key] = _type_text(v)
    return out


def _params(fn):
    """(names in order, required names, {name: annotation text})."""
    a = fn.args
    pos = list(getattr(a, "posonlyargs", [])) + list(a.args)
    names, required, ann = [], [], {}
    first_default = len(pos) - len(a.defaults)
    posonly = len(getattr(a, "posonlyargs", []))
    for i, arg in enumerate(pos):
        if i < posonly:
            continue
        names.append(arg.arg)
        if i < first_default:
            required.append(arg.arg)
        if arg.annotation is not None:
            ann[arg.arg] = _type_text(arg.annotation)
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        names.append(arg.arg)
        if d is None:
            required.append(arg.arg)
        if arg.annotation is not None:
            ann[arg.arg] = _type_text(arg.annotation)
    return names, required, ann


def describe(fn, deco):
    """One flow's record from its FunctionDef and its @flow decorator node."""
    name, description, inputs, outputs, tags, secrets = fn.name, "", None, None, [], []
    if isinstance(deco, ast.Call):
        if deco.args:
            first = _const(deco.args[0])
            if isinstance(first, str):
                name = first
        for kw in deco.keywords:
            if kw.arg == "name":
                v = _const(kw.value)
                if isinstance(v, str):
                    name = v
            elif kw.arg == "description":
                v = _const(kw.value, "")
                description = v if isinstance(v, str) else ""
            elif kw.arg == "inputs":
                inputs = _type_map(kw.value)
            elif kw.arg == "outputs":
                outputs = _type_map(kw.value)
            elif kw.arg == "secrets":
                v = _const(kw.value, [])
                secrets = [s for s in v if isinstance(s, str)] \
                    if isinstance(v, (list, tuple)) else []
            elif kw.arg == "tags":
                v = _const(kw.value, [])
                if isinstance(v, str):
                    v = [v]
                tags = [t for t in v if isinstance(t, str)] if isinstance(v, (list, tuple, set)) \
                    else []
    names, required, ann = _params(fn)
    if inputs is None:
        inputs = {n: ann.get(n, "object") for n in names}
    # Same line as the function's code object (co_firstlineno): the first decorator's.
    line = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
    return {
        "name": name,
        "description": description,
        "docstring": ast.get_docstring(fn),
        "inputs": inputs,
        "outputs": outputs or {},
        "tags": tags,
        "secrets": secrets,
        "required": [n for n in required if n in inputs] or required,
        "line": line,
        "async": isinstance(fn, ast.AsyncFunctionDef),
    }


def inspect_source(source, filename="<flow>"):
    """{"flows": [...]} for a source text. Raises SyntaxError."""
    tree = ast.parse(source, filename)
    flows = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in node.decorator_list:
                if _is_flow_decorator(deco):
                    flows.append(describe(node, deco))
                    break
    flows.sort(key=lambda f: f["line"])
    return {"flows": flows}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: python3 -m hero_tracing.inspect_flow FLOW.py\n")
        return 2
    path = argv[0]
    try:
        with open(path, "rb") as f:
            source = f.read()
        result = inspect_source(source, path)
    except SyntaxError as e:
        sys.stdout.write(json.dumps({"error": "%s:%s: %s" % (e.filename or path, e.lineno, e.msg),
                                     "line": e.lineno}) + "\n")
        return 2
    except (OSError, ValueError) as e:
        sys.stdout.write(json.dumps({"error": "%s: %s" % (path, e)}) + "\n")
        return 2
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
