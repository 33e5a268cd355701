"""Cross-check (not needed by the tests): renders every case of expected/ with Python's Jinja2 in the environment
Hugging Face transformers uses for chat templates and reports any difference from the recorded renderings of
@huggingface/transformers. Usage: python3 crosscheck_python.py"""
import json
import os

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

here = os.path.dirname(os.path.abspath(__file__))
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise TemplateError(message)


env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception


def load(name):
    with open(os.path.join(here, name), encoding="utf-8") as f:
        return f.read()


def hf_messages(messages):
    out = []
    for m in messages:
        message = {"role": m["role"], "content": m["content"]}
        if m.get("tool_calls"):
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in m["tool_calls"]
            ]
        for key in ("tool_call_id", "name"):
            if key in m:
                message[key] = m[key]
        out.append(message)
    return out


manifest = json.loads(load("manifest.json"))
conversations = json.loads(load("conversations.json"))
cases = {c["name"]: c for c in conversations["cases"]}
same = differ = 0
for t in manifest["templates"]:
    for name, recorded in json.loads(load(f"expected/{t['name']}.json"))["renderings"].items():
        case = cases[name]
        tools = [{"type": "function", "function": x} for x in conversations["tools"][case["tools"]]] if case.get("tools") else None
        if "file" in t:
            source = load(t["file"])
        else:
            source = load(t["named_files"]["tool_use" if tools and "tool_use" in t["named_files"] else "default"])
        try:
            result = {"output": env.from_string(source).render(
                messages=hf_messages(case["messages"]), tools=tools, documents=None,
                add_generation_prompt=case["add_generation_prompt"], **t["special_tokens"], **case.get("variables", {}))}
        except Exception as e:
            result = {"error": str(e)}
        ok = result.get("output") == recorded["output"] if "output" in recorded else recorded["error"] in result.get("error", "")
        same += ok
        differ += not ok
        if not ok:
            print("DIFFERENT", t["name"], name)
print(f"{same} same, {differ} different")
