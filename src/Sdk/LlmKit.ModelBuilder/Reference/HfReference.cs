using System.Numerics.Tensors;
using LlmKit.ModelBuilder.HuggingFace;

namespace LlmKit.ModelBuilder;

/// <summary>
/// A plain float32 forward pass of a Hugging Face decoder (Llama, Mistral, Qwen2, Phi3, Gemma, Gemma2), one token at
/// a time with a KV cache, written from the Hugging Face modelling code's definitions rather than from the graph:
/// RoPE rotates the two halves of each head, RMSNorm multiplies by (offset + w) with the raw checkpoint weight,
/// GeGLU uses the tanh GELU, softcaps are cap·tanh(x / cap), and a sliding window of W lets a query see itself and
/// the W − 1 keys before it. Holds every weight in memory: meant for the small synthetic checkpoints of the tests.
/// Not thread-safe.
/// </summary>
internal sealed class HfReference
{
    private readonly HfDecoderSpec _s;
    private readonly RopeFrequencies? _rope;
    private readonly RopeFrequencies? _shortRope; // longrope with two factor sets: the short ones (_rope holds the long)
    private readonly int _switchLength;
    private RopeFrequencies? _runRope;   // dynamic scaling: the frequencies of _runLength
    private int _runLength;
    private readonly int _maxPositions;
    private readonly float[] _embedding, _head, _finalNorm;
    private readonly Layer[] _layers;
    private readonly float[] _keyCache, _valueCache; // [layer, position, kv_dim]

    /// <param name="weights">The checkpoint.</param>
    /// <param name="maxPositions">Positions the reference's KV cache holds.</param>
    /// <param name="ropeContextLength">The context length the rope scaling is computed for (longrope picks its factors by it); default max_position_embeddings.</param>
    /// <param name="adjustProjection">
    /// Called with (layer, q_proj ... down_proj, the [out, in] weight) after each projection is read, to modify it in
    /// place (e.g. to merge a LoRA adapter's B·A); null keeps the checkpoint's weights.
    /// </param>
    public HfReference(HfWeights weights, int maxPositions, int? ropeContextLength = null, Action<int, string, float[]>? adjustProjection = null)
    {
        _s = weights.Spec;
        int context = ropeContextLength ?? _s.MaxPositions;
        _rope = _s.RopeScaling is null ? null : _s.RopeFrequenciesFor(context);
        if (_s.RopeScaling is { SwitchesFactorSets: true, OriginalMaxPositionEmbeddings: { } original } && context > original)
        {
            // As the graph's switch: short factors while the pass's total length is within the original length.
            _shortRope = _s.RopeFrequenciesFor(original);
            _switchLength = original;
        }
        _maxPositions = maxPositions;
        _embedding = weights.Embedding().ToArray();
        _head = weights.LmHead().ToArray();
        _finalNorm = weights.FinalNorm();
        _layers = [.. Enumerable.Range(0, _s.Layers).Select(l => new Layer(weights, l, adjustProjection))];
        _keyCache = new float[(long)_s.Layers * maxPositions * _s.KvDim];
        _valueCache = new float[(long)_s.Layers * maxPositions * _s.KvDim];
    }

    /// <summary>Runs <paramref name="token"/> at <paramref name="position"/> (positions 0, 1, 2, ... in order) and returns the logits.</summary>
    /// <param name="token">Token id.</param>
    /// <param name="position">Its position.</param>
    /// <param name="sequenceLength">
    /// The total length of the pass this token belongs to (the attention mask width); default position + 1. longrope
    /// with two factor sets uses short factors within the original length and long ones beyond; dynamic (NTK) scaling the frequencies for that length.
    /// </param>
    public float[] Forward(int token, int position, int? sequenceLength = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(token);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(token, _s.VocabSize);
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(position, _maxPositions);
        int length = sequenceLength ?? position + 1;
        ArgumentOutOfRangeException.ThrowIfLessThan(length, position + 1, nameof(sequenceLength));
        RopeFrequencies? rope = _shortRope is not null && length <= _switchLength ? _shortRope : _rope;
        if (_s.RopeScaling?.Type == RopeScalingType.Dynamic)
        {
            if (_runRope is null || _runLength != length)
            {
                _runRope = _s.RopeFrequenciesFor(length);
                _runLength = length;
            }

            rope = _runRope;
        }

        int h = _s.Hidden, hd = _s.HeadDim, kvDim = _s.KvDim, groups = _s.Heads / _s.KvHeads;

        var x = _embedding.AsSpan(token * h, h).ToArray();
        TensorPrimitives.Multiply(x, _s.EmbeddingScale, x);
        var xb = new float[h];
        var q = new float[_s.QDim];
        var att = new float[_s.QDim];
        var scores = new float[position + 1];
        var gate = new float[_s.Intermediate];
        var up = new float[_s.Intermediate];

        for (int l = 0; l < _s.Layers; l++)
        {
            var w = _layers[l];
            RmsNorm(xb, x, w.InputNorm);

            long at = ((long)l * _maxPositions + position) * kvDim;
            Span<float> k = _keyCache.AsSpan((int)at, kvDim);
            Span<float> v = _valueCache.AsSpan((int)at, kvDim);
            MatVec(q, xb, w.Q, w.QBias);
            MatVec(k, xb, w.K, w.KBias);
            MatVec(v, xb, w.V, w.VBias);
            for (int head = 0; head < _s.Heads; head++)
            {
                RotateHalves(q.AsSpan(head * hd, hd), position, rope);
            }

            for (int head = 0; head < _s.KvHeads; head++)
            {
                RotateHalves(k.Slice(head * hd, hd), position, rope);
            }

            int first = _s.IsSlidingLayer(l) ? Math.Max(0, position - _s.SlidingWindow!.Value + 1) : 0;
            for (int head = 0; head < _s.Heads; head++)
            {
                ReadOnlySpan<float> qh = q.AsSpan(head * hd, hd);
                int kvHead = head / groups;
                Span<float> s = scores.AsSpan(0, position + 1 - first);
                for (int t = first; t <= position; t++)
                {
                    long kt = ((long)l * _maxPositions + t) * kvDim + (kvHead * hd);
                    float score = TensorPrimitives.Dot(qh, _keyCache.AsSpan((int)kt, hd)) * _s.AttentionScale;
                    s[t - first] = _s.AttentionSoftcap > 0f ? _s.AttentionSoftcap * MathF.Tanh(score / _s.AttentionSoftcap) : score;
                }

                TensorPrimitives.SoftMax(s, s);
                Span<float> out_ = att.AsSpan(head * hd, hd);
                out_.Clear();
                for (int t = first; t <= position; t++)
                {
                    long vt = ((long)l * _maxPositions + t) * kvDim + (kvHead * hd);
                    TensorPrimitives.MultiplyAdd(_valueCache.AsSpan((int)vt, hd), s[t - first], out_, out_);
                }
            }

            MatVec(xb, att, w.O, null);
            if (w.PostAttentionNorm is { } postAttention && _s.SandwichNorms)
            {
                RmsNorm(xb, xb, postAttention);
            }

            TensorPrimitives.Add(x, xb, x);

            RmsNorm(xb, x, w.FeedForwardNorm);
            MatVec(gate, xb, w.Gate, null);
            MatVec(up, xb, w.Up, null);
            for (int i = 0; i < gate.Length; i++)
            {
                gate[i] = Activate(gate[i]) * up[i];
            }

            MatVec(xb, gate, w.Down, null);
            if (w.PostFeedForwardNorm is { } postFeedForward)
            {
                RmsNorm(xb, xb, postFeedForward);
            }

            TensorPrimitives.Add(x, xb, x);
        }

        RmsNorm(x, x, _finalNorm);
        var logits = new float[_s.VocabSize];
        MatVec(logits, x, _head, null);
        if (_s.FinalLogitSoftcap > 0f)
        {
            for (int i = 0; i < logits.Length; i++)
            {
                logits[i] = _s.FinalLogitSoftcap * MathF.Tanh(logits[i] / _s.FinalLogitSoftcap);
            }
        }

        return logits;
    }

    private float Activate(float g) => _s.Activation == GatedActivation.Silu
        ? g / (1f + MathF.Exp(-g))
        : 0.5f * g * (1f + MathF.Tanh(0.7978845608f * (g + (0.044715f * g * g * g)))); // gelu_pytorch_tanh

    // Hugging Face's rotate_half: pair i with i + d/2, angle pos · theta^(-2i/d).
    // With rope_scaling, the scaled inverse frequencies and attention factor (the same float operations as the graph's tables).
    private void RotateHalves(Span<float> head, int position, RopeFrequencies? rope)
    {
        int half = head.Length / 2;
        for (int i = 0; i < half; i++)
        {
            float freq = rope is null ? 1.0f / MathF.Pow(_s.RopeTheta, (2 * i) / (float)head.Length) : rope.Inverse[i];
            float angle = position * freq;
            float factor = rope?.AttentionFactor ?? 1f;
            float cos = MathF.Cos(angle) * factor, sin = MathF.Sin(angle) * factor;
            float a = head[i], b = head[i + half];
            head[i] = (a * cos) - (b * sin);
            head[i + half] = (b * cos) + (a * sin);
        }
    }

    private void RmsNorm(Span<float> output, ReadOnlySpan<float> x, ReadOnlySpan<float> weight)
    {
        float scale = 1f / MathF.Sqrt((TensorPrimitives.SumOfSquares(x) / x.Length) + _s.NormEps);
        for (int i = 0; i < x.Length; i++)
        {
            output[i] = (_s.NormWeightOffset + weight[i]) * (scale * x[i]);
        }
    }

    // y = W·x (+ b) with W row-major [y.Length, x.Length].
    private static void MatVec(Span<float> y, ReadOnlySpan<float> x, float[] w, float[]? bias)
    {
        int n = x.Length;
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = TensorPrimitives.Dot(w.AsSpan(i * n, n), x) + (bias?[i] ?? 0f);
        }
    }

    private sealed class Layer
    {
        public Layer(HfWeights w, int l, Action<int, string, float[]>? adjust)
        {
            InputNorm = w.LayerNorm(l, "input_layernorm");
            Q = Read(w.Q(l), "q_proj");
            K = Read(w.K(l), "k_proj");
            V = Read(w.V(l), "v_proj");
            (QBias, KBias, VBias) = w.QkvBias(l) is { } b ? (b.Q, b.K, b.V) : (null, null, null);
            O = Read(w.O(l), "o_proj");
            if (w.Spec.SandwichNorms)
            {
                PostAttentionNorm = w.LayerNorm(l, "post_attention_layernorm");
                FeedForwardNorm = w.LayerNorm(l, "pre_feedforward_layernorm");
                PostFeedForwardNorm = w.LayerNorm(l, "post_feedforward_layernorm");
            }
            else
            {
                FeedForwardNorm = w.LayerNorm(l, "post_attention_layernorm");
            }

            Gate = Read(w.Gate(l), "gate_proj");
            Up = Read(w.Up(l), "up_proj");
            Down = Read(w.Down(l), "down_proj");

            float[] Read(Memory<float> weight, string module)
            {
                float[] copy = weight.ToArray();
                adjust?.Invoke(l, module, copy);
                return copy;
            }
        }

        public float[] InputNorm { get; }

        public float[] Q { get; }

        public float[] K { get; }

        public float[] V { get; }

        public float[]? QBias { get; }

        public float[]? KBias { get; }

        public float[]? VBias { get; }

        public float[] O { get; }

        public float[]? PostAttentionNorm { get; }

        public float[] FeedForwardNorm { get; }

        public float[]? PostFeedForwardNorm { get; }

        public float[] Gate { get; }

        public float[] Up { get; }

        public float[] Down { get; }
    }
}
