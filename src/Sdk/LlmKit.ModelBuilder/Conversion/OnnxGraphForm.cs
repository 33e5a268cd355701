namespace LlmKit.ModelBuilder;

/// <summary>Which decoder graph the converter emits.</summary>
public enum OnnxGraphForm
{
    /// <summary>
    /// Standard ONNX operators (opset 17) plus SimplifiedLayerNormalization: exact in float32, any head size,
    /// KV cache grows by concatenation (past_present_share_buffer false).
    /// </summary>
    Standard = 0,

    /// <summary>
    /// The graph form of the official onnxruntime-genai builder for CPU: com.microsoft GroupQueryAttention
    /// (with fused rotary and packed QKV when head_size % 16 == 0, else separate RotaryEmbedding nodes),
    /// SkipSimplifiedLayerNormalization, optional MatMulNBits int4 weights; genai_config.json sets
    /// past_present_share_buffer true. Prompts must not be left-padded (GroupQueryAttention derives key
    /// positions from the per-row token count).
    /// </summary>
    OrtGenAI = 1,
}
