using System.Numerics.Tensors;

namespace LlmKit.ModelBuilder;

/// <summary>
/// A plain float32 Llama forward pass with a KV cache, written to read like llama2.c's <c>run.c</c>: the
/// numerical ground truth the ONNX graphs are tested against. One token at a time; call
/// <see cref="Forward(int, int, int?)"/> with positions 0, 1, 2, ... (a position may be revisited to overwrite the cache).
/// With dynamic (NTK) RoPE scaling, a position is rotated with the frequencies of the run it belongs to: pass that run's
/// total length as its sequence length (by default each token is its own run).
/// Not thread-safe: it owns mutable activation buffers and the cache.
/// </summary>
public sealed class LlamaReference
{
    private readonly Llama2cWeights _w;
    private readonly LlamaConfig _c;
    private readonly int _maxPositions;
    private readonly int _window;
    private readonly RopeFrequencies _rope;
    private readonly RopeFrequencies? _shortRope; // longrope with two factor sets: the short ones (_rope holds the long)
    private readonly int _switchLength;
    private RopeFrequencies? _runRope;  // dynamic scaling: the frequencies of _runLength
    private int _runLength;

    // Activation buffers, reused for every token (as in run.c's RunState).
    private readonly float[] _x, _xb, _xb2, _hb, _hb2, _q, _att, _logits;
    private readonly float[] _keyCache, _valueCache; // [layer, position, kv_dim]

    /// <summary>Creates a reference model over loaded weights.</summary>
    /// <param name="weights">The checkpoint tensors.</param>
    /// <param name="maxPositions">Cache length; defaults to the checkpoint's seq_len.</param>
    /// <param name="slidingWindow">
    /// Sliding-window attention (Mistral, Hugging Face semantics): the query at position i sees keys j with
    /// i − window &lt; j ≤ i, the window's tokens including itself. Null: full causal attention.
    /// </param>
    public LlamaReference(Llama2cWeights weights, int? maxPositions = null, int? slidingWindow = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        _w = weights;
        _c = weights.Config;
        _maxPositions = maxPositions ?? _c.SeqLen;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_maxPositions, nameof(maxPositions));
        _window = slidingWindow ?? int.MaxValue;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_window, nameof(slidingWindow));
        // Static frequencies for the whole cache length, as the graph's cos/sin caches are built for its context length;
        // longrope with two factor sets keeps both and picks per pass, as the graph's switch does.
        _rope = _c.RopeFrequenciesFor(_maxPositions);
        if (_c.RopeScaling is { SwitchesFactorSets: true, OriginalMaxPositionEmbeddings: { } original } && _maxPositions > original)
        {
            _shortRope = _c.RopeFrequenciesFor(original);
            _switchLength = original;
        }
        _x = new float[_c.Dim];
        _xb = new float[_c.Dim];
        _xb2 = new float[_c.Dim];
        _hb = new float[_c.HiddenDim];
        _hb2 = new float[_c.HiddenDim];
        _q = new float[_c.Dim];
        _att = new float[_maxPositions];
        _logits = new float[_c.VocabSize];
        _keyCache = new float[(long)_c.Layers * _maxPositions * _c.KvDim];
        _valueCache = new float[(long)_c.Layers * _maxPositions * _c.KvDim];
    }

    /// <summary>Creates a reference model over a checkpoint.</summary>
    /// <param name="checkpoint">A loaded checkpoint.</param>
    public LlamaReference(Llama2cCheckpoint checkpoint)
        : this((checkpoint ?? throw new ArgumentNullException(nameof(checkpoint))).Weights)
    {
    }

    /// <summary>The model shape.</summary>
    public LlamaConfig Config => _c;

    /// <summary>
    /// Runs one token at <paramref name="position"/>, attending to the cached keys of positions 0..position (the last
    /// window's worth with a sliding window),
    /// and returns a new array of logits [vocab].
    /// </summary>
    /// <param name="token">Token id in [0, VocabSize).</param>
    /// <param name="position">Position in [0, maxPositions); earlier positions must already be in the cache.</param>
    /// <param name="sequenceLength">
    /// The total length of the pass this token belongs to (past plus the tokens run together, the graph's attention mask
    /// width); default position + 1, a token-by-token run. longrope with two factor sets uses the short factors while it
    /// is within the original length and the long ones beyond; dynamic (NTK) scaling rotates with the frequencies for that
    /// length, as transformers does for every position of one forward call. Cached keys keep the rotation they got.
    /// </param>
    public float[] Forward(int token, int position, int? sequenceLength = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(token);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(token, _c.VocabSize);
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(position, _maxPositions);
        int length = sequenceLength ?? position + 1;
        ArgumentOutOfRangeException.ThrowIfLessThan(length, position + 1, nameof(sequenceLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _maxPositions, nameof(sequenceLength));
        RopeFrequencies rope = _shortRope is not null && length <= _switchLength ? _shortRope : _rope;
        if (_c.RopeScaling?.Type == RopeScalingType.Dynamic)
        {
            if (_runRope is null || _runLength != length)
            {
                _runRope = _c.RopeFrequenciesFor(length);
                _runLength = length;
            }

            rope = _runRope;
        }

        int dim = _c.Dim, kvDim = _c.KvDim, headSize = _c.HeadSize, hidden = _c.HiddenDim;
        int kvMul = _c.Heads / _c.KvHeads; // query heads per key/value head

        _w.TokenEmbedding.AsSpan(token * dim, dim).CopyTo(_x);

        for (int l = 0; l < _c.Layers; l++)
        {
            // Attention RMSNorm.
            RmsNorm(_xb, _x, _w.RmsAttention.AsSpan(l * dim, dim), _c.NormEps);

            // q, k, v for this position; k and v go straight into the cache.
            long cacheOffset = ((long)l * _maxPositions + position) * kvDim;
            Span<float> k = _keyCache.AsSpan((int)cacheOffset, kvDim);
            Span<float> v = _valueCache.AsSpan((int)cacheOffset, kvDim);
            MatVec(_q, _xb, _w.Layer(_w.Wq, l).Span);
            MatVec(k, _xb, _w.Layer(_w.Wk, l).Span);
            MatVec(v, _xb, _w.Layer(_w.Wv, l).Span);

            // RoPE: rotate adjacent pairs (x[i], x[i+1]) of each head by pos * theta^(-i/head_size), with the
            // config's scaling applied to the frequency and its attention factor to cos and sin.
            for (int i = 0; i < dim; i += 2)
            {
                int headDim = i % headSize;
                float freq = rope.Inverse[headDim / 2];
                float angle = position * freq;
                float cos = MathF.Cos(angle) * rope.AttentionFactor, sin = MathF.Sin(angle) * rope.AttentionFactor;
                Rotate(_q, i, cos, sin);
                if (i < kvDim)
                {
                    Rotate(k, i, cos, sin);
                }
            }

            // Multi-head attention over positions first..position (first = 0 without a sliding window).
            int first = Math.Max(0, position - _window + 1);
            for (int h = 0; h < _c.Heads; h++)
            {
                ReadOnlySpan<float> q = _q.AsSpan(h * headSize, headSize);
                int kvHead = h / kvMul;
                Span<float> att = _att.AsSpan(0, position + 1 - first);
                for (int t = first; t <= position; t++)
                {
                    long at = ((long)l * _maxPositions + t) * kvDim + (kvHead * headSize);
                    att[t - first] = TensorPrimitives.Dot(q, _keyCache.AsSpan((int)at, headSize)) / MathF.Sqrt(headSize);
                }

                Softmax(att);

                Span<float> xb = _xb.AsSpan(h * headSize, headSize);
                xb.Clear();
                for (int t = first; t <= position; t++)
                {
                    long at = ((long)l * _maxPositions + t) * kvDim + (kvHead * headSize);
                    TensorPrimitives.MultiplyAdd(_valueCache.AsSpan((int)at, headSize), att[t - first], xb, xb);
                }
            }

            // Output projection and residual.
            MatVec(_xb2, _xb, _w.Layer(_w.Wo, l).Span);
            TensorPrimitives.Add(_x, _xb2, _x);

            // Feed-forward: w2(silu(w1(x)) * w3(x)), with its own RMSNorm and residual.
            RmsNorm(_xb, _x, _w.RmsFeedForward.AsSpan(l * dim, dim), _c.NormEps);
            MatVec(_hb, _xb, _w.Layer(_w.W1, l).Span);
            MatVec(_hb2, _xb, _w.Layer(_w.W3, l).Span);
            for (int i = 0; i < hidden; i++)
            {
                float g = _hb[i];
                g *= 1.0f / (1.0f + MathF.Exp(-g));
                _hb[i] = g * _hb2[i];
            }

            MatVec(_xb, _hb, _w.Layer(_w.W2, l).Span);
            TensorPrimitives.Add(_x, _xb, _x);
        }

        RmsNorm(_x, _x, _w.RmsFinal, _c.NormEps);
        MatVec(_logits, _x, _w.Classifier);
        return (float[])_logits.Clone();
    }

    private static void Rotate(Span<float> vector, int i, float cos, float sin)
    {
        float v0 = vector[i], v1 = vector[i + 1];
        vector[i] = (v0 * cos) - (v1 * sin);
        vector[i + 1] = (v0 * sin) + (v1 * cos);
    }

    private static void RmsNorm(Span<float> output, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps)
    {
        float ss = TensorPrimitives.SumOfSquares(x) / x.Length;
        float scale = 1.0f / MathF.Sqrt(ss + eps);
        for (int i = 0; i < x.Length; i++)
        {
            output[i] = weight[i] * (scale * x[i]);
        }
    }

    private static void Softmax(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        float sum = 0f;
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = MathF.Exp(x[i] - max);
            sum += x[i];
        }

        TensorPrimitives.Divide(x, sum, x);
    }

    // y = W·x with W stored row-major [y.Length, x.Length], as llama2.c's matmul.
    private static void MatVec(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> w)
    {
        int n = x.Length;
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = TensorPrimitives.Dot(w.Slice(i * n, n), x);
        }
    }
}
