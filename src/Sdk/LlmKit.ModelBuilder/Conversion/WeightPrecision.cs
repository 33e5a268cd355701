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
}
