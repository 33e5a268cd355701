namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>
/// The tensors of a Hugging Face decoder by role, read on demand from a <see cref="SafetensorsCheckpoint"/> with
/// their shapes checked against the <see cref="HfDecoderSpec"/>. Hugging Face's nn.Linear stores W as
/// [out_features, in_features] (y = W·x), the same layout as llama2.c, so no transposition happens here. Phi3's fused
/// qkv_proj and gate_up_proj are sliced into their parts (rows [q | k | v] and [gate | up]). Nothing is cached.
/// Without <c>reuseBuffer</c> each matrix is a new array (thread-safe). With it, every matrix is read into one buffer
/// sized to the checkpoint's largest tensor, so a conversion holds one input tensor at a time and makes no garbage
/// per tensor; a returned matrix is then valid only until the next call (not thread-safe). Vectors (norms, biases)
/// are always fresh arrays.
/// </summary>
internal sealed class HfWeights
{
    private readonly SafetensorsCheckpoint _checkpoint;
    private readonly float[]? _buffer;

    public HfWeights(SafetensorsCheckpoint checkpoint, HfDecoderSpec spec, bool reuseBuffer = false)
    {
        _checkpoint = checkpoint;
        Spec = spec;
        if (reuseBuffer)
        {
            // Room for the largest tensor, or for q, k and v read side by side when they are separate tensors.
            long largest = checkpoint.Names.Max(n => checkpoint.Tensor(n).ElementCount);
            // Capped by 3x the largest tensor: a config.json that claims more fails the shape checks before any read.
            long qkv = Math.Min((long)(spec.QDim + (2 * spec.KvDim)) * spec.Hidden, 3 * largest);
            _buffer = new float[checked((int)Math.Max(largest, qkv))];
        }
    }

    public HfDecoderSpec Spec { get; }

    /// <summary>Token embedding [vocab, hidden].</summary>
    public Memory<float> Embedding() => Matrix("model.embed_tokens.weight", Spec.VocabSize, Spec.Hidden);

    /// <summary>LM head [vocab, hidden]: lm_head.weight, or the embedding when tied.</summary>
    public Memory<float> LmHead() => Spec.TiedEmbeddings ? Embedding() : Matrix("lm_head.weight", Spec.VocabSize, Spec.Hidden);

    /// <summary>A layer norm's raw weight [hidden] (without Gemma's +1 offset), e.g. "input_layernorm".</summary>
    public float[] LayerNorm(int layer, string name) => _checkpoint.ReadFloat32($"model.layers.{layer}.{name}.weight", Spec.Hidden);

    /// <summary>The final norm's raw weight [hidden].</summary>
    public float[] FinalNorm() => _checkpoint.ReadFloat32("model.norm.weight", Spec.Hidden);

    public Memory<float> Q(int layer) => Attention(layer, "q", 0, Spec.QDim);

    public Memory<float> K(int layer) => Attention(layer, "k", Spec.QDim, Spec.KvDim);

    public Memory<float> V(int layer) => Attention(layer, "v", Spec.QDim + Spec.KvDim, Spec.KvDim);

    /// <summary>[q; k; v] rows, [q_dim + 2·kv_dim, hidden].</summary>
    public Memory<float> Qkv(int layer)
    {
        int rows = Spec.QDim + (2 * Spec.KvDim);
        if (Spec.FusedProjections)
        {
            return Matrix($"model.layers.{layer}.self_attn.qkv_proj.weight", rows, Spec.Hidden);
        }

        // Read side by side into one destination, so the packed weight needs no concatenation copy. Shapes are
        // checked first, so the sizes below come from validated headers, not from config.json alone.
        int h = Spec.Hidden;
        CheckedTensor($"model.layers.{layer}.self_attn.q_proj.weight", Spec.QDim, h);
        CheckedTensor($"model.layers.{layer}.self_attn.k_proj.weight", Spec.KvDim, h);
        CheckedTensor($"model.layers.{layer}.self_attn.v_proj.weight", Spec.KvDim, h);
        Memory<float> all = _buffer is null ? new float[rows * Spec.Hidden] : _buffer.AsMemory(0, rows * Spec.Hidden);
        ReadInto($"model.layers.{layer}.self_attn.q_proj.weight", all.Span[..(Spec.QDim * h)], Spec.QDim, h);
        ReadInto($"model.layers.{layer}.self_attn.k_proj.weight", all.Span.Slice(Spec.QDim * h, Spec.KvDim * h), Spec.KvDim, h);
        ReadInto($"model.layers.{layer}.self_attn.v_proj.weight", all.Span.Slice((Spec.QDim + Spec.KvDim) * h, Spec.KvDim * h), Spec.KvDim, h);
        return all;
    }

    /// <summary>q, k, v biases (Qwen2); null without biases.</summary>
    public (float[] Q, float[] K, float[] V)? QkvBias(int layer) => Spec.QkvBias
        ? (Bias(layer, "q", Spec.QDim), Bias(layer, "k", Spec.KvDim), Bias(layer, "v", Spec.KvDim))
        : null;

    /// <summary>Attention output projection [hidden, q_dim].</summary>
    public Memory<float> O(int layer) => Matrix($"model.layers.{layer}.self_attn.o_proj.weight", Spec.Hidden, Spec.QDim);

    public Memory<float> Gate(int layer) => Mlp(layer, "gate", 0);

    public Memory<float> Up(int layer) => Mlp(layer, "up", Spec.Intermediate);

    /// <summary>Down projection [hidden, intermediate].</summary>
    public Memory<float> Down(int layer) => Matrix($"model.layers.{layer}.mlp.down_proj.weight", Spec.Hidden, Spec.Intermediate);

    private Memory<float> Attention(int layer, string part, int rowStart, int rows)
    {
        if (!Spec.FusedProjections)
        {
            return Matrix($"model.layers.{layer}.self_attn.{part}_proj.weight", rows, Spec.Hidden);
        }

        return Qkv(layer).Slice(rowStart * Spec.Hidden, rows * Spec.Hidden);
    }

    private Memory<float> Matrix(string name, int rows, int cols)
    {
        CheckedTensor(name, rows, cols); // before allocating from config.json's sizes
        Memory<float> destination = _buffer is null ? new float[(long)rows * cols] : _buffer.AsMemory(0, checked(rows * cols));
        ReadInto(name, destination.Span, rows, cols);
        return destination;
    }

    private void ReadInto(string name, Span<float> destination, int rows, int cols) =>
        SafetensorsFile.ReadFloat32(CheckedTensor(name, rows, cols), destination);

    private SafetensorsTensor CheckedTensor(string name, int rows, int cols)
    {
        var tensor = _checkpoint.Tensor(name);
        if (tensor.Shape.Length != 2 || tensor.Shape[0] != rows || tensor.Shape[1] != cols)
        {
            throw new InvalidDataException($"Tensor '{name}' has shape {tensor.ShapeText}; config.json implies [{rows}, {cols}].");
        }

        return tensor;
    }

    private float[] Bias(int layer, string part, int rows) =>
        _checkpoint.ReadFloat32($"model.layers.{layer}.self_attn.{part}_proj.bias", rows);

    private Memory<float> Mlp(int layer, string part, int rowStart)
    {
        if (!Spec.FusedProjections)
        {
            return Matrix($"model.layers.{layer}.mlp.{part}_proj.weight", Spec.Intermediate, Spec.Hidden);
        }

        return Matrix($"model.layers.{layer}.mlp.gate_up_proj.weight", 2 * Spec.Intermediate, Spec.Hidden).Slice(rowStart * Spec.Hidden, Spec.Intermediate * Spec.Hidden);
    }
}
