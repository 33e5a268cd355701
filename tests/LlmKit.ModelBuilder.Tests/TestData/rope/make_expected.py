"""Writes expected.json: RoPE inverse frequencies and attention factors for several Hugging Face rope_scaling
configs, computed in float64 with plain Python from the formulas of transformers' modeling_rope_utils
(_compute_linear/dynamic/llama3/yarn/longrope_parameters). Independent of LlmKit's C# code; run with python3."""
import json
import math


def default(head, theta):
    return [1.0 / theta ** (i / head) for i in range(0, head, 2)]


def compute(case):
    head, theta, rs = case["head_size"], case["theta"], case["rope_scaling"]
    max_pos = case["max_position_embeddings"]
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return [f / rs["factor"] for f in default(head, theta)], 1.0
    if kind == "dynamic":
        seq = case["sequence_length"]
        base = theta
        if seq > max_pos:
            base = theta * ((rs["factor"] * seq / max_pos) - (rs["factor"] - 1)) ** (head / (head - 2))
        return default(head, base), 1.0
    if kind == "llama3":
        factor, low, high, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        out = []
        for f in default(head, theta):
            wavelen = 2 * math.pi / f
            if wavelen < old / high:
                out.append(f)
            elif wavelen > old / low:
                out.append(f / factor)
            else:
                smooth = (old / wavelen - low) / (high - low)
                out.append((1 - smooth) * f / factor + smooth * f)
        return out, 1.0
    if kind == "yarn":
        factor = rs["factor"]
        original = max_pos
        if "original_max_position_embeddings" in rs:
            original = rs["original_max_position_embeddings"]
            factor = max_pos / original

        def mscale(scale, m=1.0):
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

        attention = rs.get("attention_factor")
        if attention is None:
            if rs.get("mscale") and rs.get("mscale_all_dim"):
                attention = mscale(factor, rs["mscale"]) / mscale(factor, rs["mscale_all_dim"])
            else:
                attention = mscale(factor)
        beta_fast, beta_slow = rs.get("beta_fast", 32), rs.get("beta_slow", 1)

        def corr(rot):
            return (head * math.log(original / (rot * 2 * math.pi))) / (2 * math.log(theta))

        low, high = corr(beta_fast), corr(beta_slow)
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, head - 1)
        if low == high:
            high += 0.001
        out = []
        for i, f in enumerate(default(head, theta)):
            ramp = min(max((i - low) / (high - low), 0.0), 1.0)
            extrapolation_factor = 1 - ramp
            out.append((f / factor) * (1 - extrapolation_factor) + f * extrapolation_factor)
        return out, attention
    if kind in ("longrope", "su"):
        original = case.get("original_max_position_embeddings", max_pos)
        factor = max_pos / original if "original_max_position_embeddings" in case else rs.get("factor", 1.0)
        attention = rs.get("attention_factor")
        if attention is None:
            attention = 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original))
        ext = rs["long_factor"] if case["sequence_length"] > original else rs["short_factor"]
        return [f / e for f, e in zip(default(head, theta), ext)], attention
    raise ValueError(kind)


short = [1.0 + 0.05 * i for i in range(48)]
long_ = [1.0 + 1.5 * i for i in range(48)]
cases = [
    dict(name="linear", head_size=16, theta=10000.0, max_position_embeddings=2048, sequence_length=8192,
         rope_scaling={"rope_type": "linear", "factor": 4.0}),
    dict(name="dynamic-long", head_size=64, theta=10000.0, max_position_embeddings=2048, sequence_length=8192,
         rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
    dict(name="llama3.1", head_size=128, theta=500000.0, max_position_embeddings=131072, sequence_length=131072,
         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192}),
    dict(name="yarn-qwen", head_size=128, theta=1000000.0, max_position_embeddings=131072, sequence_length=131072,
         rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}),
    dict(name="yarn-plain", head_size=16, theta=10000.0, max_position_embeddings=2048, sequence_length=8192,
         rope_scaling={"rope_type": "yarn", "factor": 4.0}),
    dict(name="yarn-mscale", head_size=64, theta=10000.0, max_position_embeddings=4096, sequence_length=163840,
         rope_scaling={"rope_type": "yarn", "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 0.707, "beta_fast": 32, "beta_slow": 1}),
    dict(name="longrope-short", head_size=96, theta=10000.0, max_position_embeddings=131072, original_max_position_embeddings=4096,
         sequence_length=100, rope_scaling={"type": "longrope", "short_factor": short, "long_factor": long_}),
    dict(name="longrope-long", head_size=96, theta=10000.0, max_position_embeddings=131072, original_max_position_embeddings=4096,
         sequence_length=8000, rope_scaling={"type": "longrope", "short_factor": short, "long_factor": long_}),
]
for case in cases:
    inv, attention = compute(case)
    case["inv_freq"] = inv
    case["attention_factor"] = attention

with open("expected.json", "w") as f:
    json.dump(cases, f, indent=1)
