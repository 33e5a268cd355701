namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>The feed-forward activation of a gated MLP: act(gate) · up.</summary>
internal enum GatedActivation
{
    /// <summary>SiLU (SwiGLU): Llama, Mistral, Qwen2, Phi3.</summary>
    Silu,

    /// <summary>GELU with the tanh approximation (GeGLU, <c>gelu_pytorch_tanh</c>): Gemma, Gemma2.</summary>
    GeluTanh,
}

/// <summary>
/// Everything about a Hugging Face decoder that changes the math, read from config.json by <see cref="HfConfigReader"/>.
/// One record covers the supported family: the per-architecture quirks are switches here, so the graph emitter and
/// the reference forward read the same description. Immutable and thread-safe.
/// </summary>
internal sealed record HfDecoderSpec
{
    /// <summary>The config.json architecture, e.g. LlamaForCausalLM.</summary>
    public required string Architecture { get; init; }

    /// <summary>onnxruntime-genai's model.type: llama, mistral, qwen2, phi3, gemma or gemma2.</summary>
    public required string ModelType { get; init; }

    public required int Hidden { get; init; }

    public required int Intermediate { get; init; }

    public required int Layers { get; init; }

    public required int Heads { get; init; }

    public required int KvHeads { get; init; }

    /// <summary>Width of one head; may differ from Hidden / Heads (Gemma).</summary>
    public required int HeadDim { get; init; }

    public required int VocabSize { get; init; }

    /// <summary>max_position_embeddings: the default context length.</summary>
    public required int MaxPositions { get; init; }

    public required float NormEps { get; init; }

    public required float RopeTheta { get; init; }

    /// <summary>config.json's <c>rope_scaling</c>, or null for plain RoPE.</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>The rotary inverse frequencies and attention factor for a context of <paramref name="contextLength"/> positions.</summary>
    public RopeFrequencies RopeFrequenciesFor(int contextLength) =>
        RopeScaling?.Frequencies(HeadDim, RopeTheta, contextLength) ?? new RopeFrequencies(ModelBuilder.RopeScaling.Unscaled(HeadDim, RopeTheta), 1f);

    /// <summary>The LM head reuses the token embedding (no lm_head.weight tensor).</summary>
    public required bool TiedEmbeddings { get; init; }

    /// <summary>q/k/v projections carry biases (Qwen2; Llama with attention_bias).</summary>
    public bool QkvBias { get; init; }

    /// <summary>q/k/v are one fused qkv_proj and gate/up one gate_up_proj (Phi3).</summary>
    public bool FusedProjections { get; init; }

    public GatedActivation Activation { get; init; } = GatedActivation.Silu;

    /// <summary>Multiplier applied to the token embedding (Gemma: sqrt(hidden)); 1 for the others.</summary>
    public float EmbeddingScale { get; init; } = 1f;

    /// <summary>RMSNorm multiplies by (offset + weight): 1 for Gemma, 0 for the others.</summary>
    public float NormWeightOffset { get; init; }

    /// <summary>Softmax scale of attention scores: 1/sqrt(head_dim), or query_pre_attn_scalar^-0.5 (Gemma2).</summary>
    public required float AttentionScale { get; init; }

    /// <summary>tanh softcap of attention scores (Gemma2 attn_logit_softcapping); 0 = none.</summary>
    public float AttentionSoftcap { get; init; }

    /// <summary>tanh softcap of the logits (Gemma2 final_logit_softcapping); 0 = none.</summary>
    public float FinalLogitSoftcap { get; init; }

    /// <summary>
    /// Gemma2's sandwich norms: post_attention_layernorm normalises the attention output before the residual add,
    /// and pre_/post_feedforward_layernorm wrap the MLP.
    /// </summary>
    public bool SandwichNorms { get; init; }

    /// <summary>Sliding window W (each token sees itself and the W − 1 tokens before it), or null.</summary>
    public int? SlidingWindow { get; init; }

    /// <summary>With a sliding window: true when only even layers use it (Gemma2), false when every layer does.</summary>
    public bool AlternatingWindow { get; init; }

    public int? BosTokenId { get; init; }

    /// <summary>End-of-sequence ids (config.json, or generation_config.json when it lists more).</summary>
    public int[] EosTokenIds { get; init; } = [];

    public int? PadTokenId { get; init; }

    public int QDim => Heads * HeadDim;

    public int KvDim => KvHeads * HeadDim;

    /// <summary>True when layer <paramref name="layer"/> attends through the sliding window.</summary>
    public bool IsSlidingLayer(int layer) => SlidingWindow is not null && (!AlternatingWindow || layer % 2 == 0);

    /// <summary>True when every layer has the same window, so a KV cache of the window's size is enough.</summary>
    public bool WholeModelWindow => SlidingWindow is not null && !AlternatingWindow;

    /// <summary>Number of parameters, counting a tied head once.</summary>
    public long ParameterCount
    {
        get
        {
            long h = Hidden, q = QDim, kv = KvDim, i = Intermediate;
            long perLayer = (h * q) + (2 * h * kv) + (q * h) + (3 * h * i) + (2 * h) + (SandwichNorms ? 2 * h : 0) + (QkvBias ? q + (2 * kv) : 0);
            return ((long)VocabSize * h * (TiedEmbeddings ? 1 : 2)) + (Layers * perLayer) + h;
        }
    }
}
