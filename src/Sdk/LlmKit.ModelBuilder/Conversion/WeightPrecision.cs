namespace LlmKit.ModelBuilder;

/// <summary>How projection weights (attention, MLP, LM head) are stored.</summary>
public enum WeightPrecision
{
    /// <summary>float32, exact.</summary>
    Fp32 = 0,

    /// <summary>
    /// 4-bit blocks of 32 (com.microsoft MatMulNBits), with per-block float32 scales and optional 4-bit zero
    /// points; the embedding table stays float32. Only with <see cref="OnnxGraphForm.OrtGenAI"/>.
    /// </summary>
    Int4 = 1,

    /// <summary>
    /// float16 end to end: weights, activations, KV cache and logits, as the official builder's fp16 folders.
    /// Only for Hugging Face conversions (<see cref="HfConverter"/>).
    /// </summary>
    Fp16 = 2,
}
