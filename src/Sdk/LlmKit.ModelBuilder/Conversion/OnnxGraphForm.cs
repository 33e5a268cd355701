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
    /// The graph form of the official onnxruntime-genai builder for CPU (GroupQueryAttention, RotaryEmbedding,
    /// SkipSimplifiedLayerNormalization contrib ops; shared KV buffers). Not implemented yet.
    /// </summary>
    OrtGenAI = 1,
}
