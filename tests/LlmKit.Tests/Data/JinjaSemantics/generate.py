"""Renders cases.json with Python's Jinja2 configured as Hugging Face transformers configures it for chat templates
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, HF's tojson and raise_exception) and writes
expected.json: the output, or "ERROR <exception type>" when Jinja2 raises. Usage: python3 generate.py"""
import json
import os

import jinja2
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

# The context every case renders with (the C# test builds the same values).
context = {
    "messages": [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "U2"},
    ],
    "d": {"b": 2, "a": 3, "c": 1},
    "x": 1,
}

cases = json.load(open(os.path.join(here, "cases.json"), encoding="utf-8"))
results = []
for template in cases:
    try:
        results.append({"output": env.from_string(template).render(**context)})
    except Exception as e:  # the type is what the C# side checks against
        results.append({"error": type(e).__name__})

with open(os.path.join(here, "expected.json"), "w", encoding="utf-8") as f:
    json.dump({"renderer": f"Python Jinja2 {jinja2.__version__}", "results": results}, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"{len(results)} cases -> expected.json")
