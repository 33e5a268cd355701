namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>
/// The tensors of a Hugging Face decoder by role, read on demand from a <see cref="SafetensorsCheckpoint"/> with
/// their shapes checked against the <see cref="HfDecoderSpec"/>. Hugging Face's nn.Linear stores W as
/// [out_features, in_features] (y = W·x), the same layout as llama2.c, so no transposition happens here. Phi3's fused
/// qkv_proj and gate_up_proj are sliced into their parts (rows [q | k | v] and [gate | up]). Each call returns a new
/// array: nothing is cached, so a conversion holds one tensor at a time. Thread-safe.
/// </summary>
internal sealed class HfWeights
{
    private readonly SafetensorsCheckpoint _checkpoint;

    public HfWeights(SafetensorsCheckpoint checkpoint, HfDecoderSpec spec)
    {
        _checkpoint = checkpoint;
        Spec = spec;
    }

    public HfDecoderSpec Spec { get; }

    /// <summary>Token embedding [vocab, hidden].</summary>
    public float[] Embedding() => _checkpoint.ReadFloat32("model.embed_tokens.weight", Spec.VocabSize, Spec.Hidden);

    /// <summary>LM head [vocab, hidden]: lm_head.weight, or the embedding when tied.</summary>
    public float[] LmHead() => Spec.TiedEmbeddings ? Embedding() : _checkpoint.ReadFloat32("lm_head.weight", Spec.VocabSize, Spec.Hidden);

    /// <summary>A layer norm's raw weight [hidden] (without Gemma's +1 offset), e.g. "input_layernorm".</summary>
    public float[] LayerNorm(int layer, string name) => _checkpoint.ReadFloat32($"model.layers.{layer}.{name}.weight", Spec.Hidden);

    /// <summary>The final norm's raw weight [hidden].</summary>
    public float[] FinalNorm() => _checkpoint.ReadFloat32("model.norm.weight", Spec.Hidden);

    public float[] Q(int layer) => Attention(layer, "q", 0, Spec.QDim);

    public float[] K(int layer) => Attention(layer, "k", Spec.QDim, Spec.KvDim);

    public float[] V(int layer) => Attention(layer, "v", Spec.QDim + Spec.KvDim, Spec.KvDim);

    /// <summary>[q; k; v] rows, [q_dim + 2·kv_dim, hidden].</summary>
    public float[] Qkv(int layer) => Spec.FusedProjections
        ? _checkpoint.ReadFloat32($"model.layers.{layer}.self_attn.qkv_proj.weight", Spec.QDim + (2 * Spec.KvDim), Spec.Hidden)
        : [.. Q(layer), .. K(layer), .. V(layer)];

    /// <summary>q, k, v biases (Qwen2); null without biases.</summary>
    public (float[] Q, float[] K, float[] V)? QkvBias(int layer) => Spec.QkvBias
        ? (Bias(layer, "q", Spec.QDim), Bias(layer, "k", Spec.KvDim), Bias(layer, "v", Spec.KvDim))
        : null;

    /// <summary>Attention output projection [hidden, q_dim].</summary>
    public float[] O(int layer) => _checkpoint.ReadFloat32($"model.layers.{layer}.self_attn.o_proj.weight", Spec.Hidden, Spec.QDim);

    public float[] Gate(int layer) => Mlp(layer, "gate", 0);

    public float[] Up(int layer) => Mlp(layer, "up", Spec.Intermediate);

    /// <summary>Down projection [hidden, intermediate].</summary>
    public float[] Down(int layer) => _checkpoint.ReadFloat32($"model.layers.{layer}.mlp.down_proj.weight", Spec.Hidden, Spec.Intermediate);

    private float[] Attention(int layer, string part, int rowStart, int rows)
    {
        if (!Spec.FusedProjections)
        {
            return _checkpoint.ReadFloat32($"model.layers.{layer}.self_attn.{part}_proj.weight", rows, Spec.Hidden);
        }

        float[] fused = Qkv(layer);
        return fused.AsSpan(rowStart * Spec.Hidden, rows * Spec.Hidden).ToArray();
    }

    private float[] Bias(int layer, string part, int rows) =>
        _checkpoint.ReadFloat32($"model.layers.{layer}.self_attn.{part}_proj.bias", rows);

    private float[] Mlp(int layer, string part, int rowStart)
    {
        if (!Spec.FusedProjections)
        {
            return _checkpoint.ReadFloat32($"model.layers.{layer}.mlp.{part}_proj.weight", Spec.Intermediate, Spec.Hidden);
        }

        float[] fused = _checkpoint.ReadFloat32($"model.layers.{layer}.mlp.gate_up_proj.weight", 2 * Spec.Intermediate, Spec.Hidden);
        return fused.AsSpan(rowStart * Spec.Hidden, Spec.Intermediate * Spec.Hidden).ToArray();
    }
}
