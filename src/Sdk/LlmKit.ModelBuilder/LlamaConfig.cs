namespace LlmKit.ModelBuilder;

/// <summary>
/// The shape of a Llama-family decoder: the hyper-parameters stored in a llama2.c checkpoint header plus the
/// constants llama2.c assumes (RoPE theta, RMSNorm epsilon). Immutable and thread-safe.
/// </summary>
/// <param name="Dim">Model (residual stream) width.</param>
/// <param name="HiddenDim">Width of the SwiGLU feed-forward layer.</param>
/// <param name="Layers">Number of transformer blocks.</param>
/// <param name="Heads">Number of query heads; must divide <paramref name="Dim"/>.</param>
/// <param name="KvHeads">Number of key/value heads; must divide <paramref name="Heads"/> (fewer = grouped-query attention).</param>
/// <param name="VocabSize">Number of tokens.</param>
/// <param name="SeqLen">Maximum sequence length the model was trained for.</param>
/// <param name="SharedClassifier">True when the output classifier reuses the token embedding matrix.</param>
public sealed record LlamaConfig(
    int Dim,
    int HiddenDim,
    int Layers,
    int Heads,
    int KvHeads,
    int VocabSize,
    int SeqLen,
    bool SharedClassifier = true)
{
    /// <summary>Width of one attention head: <see cref="Dim"/> / <see cref="Heads"/>.</summary>
    public int HeadSize => Heads > 0 ? Dim / Heads : 0;

    /// <summary>Width of the key and value projections: <see cref="KvHeads"/> × <see cref="HeadSize"/>.</summary>
    public int KvDim => KvHeads * HeadSize;

    /// <summary>RoPE base frequency (llama2.c uses 10000).</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary>
    /// RoPE scaling for a context beyond the training length (<see cref="SeqLen"/> stays the training length), or null
    /// for plain RoPE. The graph's cos/sin caches and <see cref="LlamaReference"/> both follow it.
    /// </summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>RMSNorm epsilon (llama2.c uses 1e-5).</summary>
    public float NormEps { get; init; } = 1e-5f;

    /// <summary>The RoPE frequencies for sequences of <paramref name="sequenceLength"/> tokens (only dynamic and longrope depend on it).</summary>
    /// <param name="sequenceLength">The sequence length the frequencies are for.</param>
    public RopeFrequencies RopeFrequenciesFor(int sequenceLength) =>
        RopeScaling?.Frequencies(HeadSize, RopeTheta, sequenceLength) ?? new RopeFrequencies(ModelBuilder.RopeScaling.Unscaled(HeadSize, RopeTheta), 1f);

    /// <summary>Number of parameters, counting a shared classifier once and excluding the legacy RoPE tables.</summary>
    public long ParameterCount
    {
        get
        {
            long d = Dim, h = HiddenDim, kv = KvDim, v = VocabSize;
            long perLayer = (2 * d) + (d * d) + (2 * kv * d) + (d * d) + (3 * h * d);
            return (v * d) + (Layers * perLayer) + d + (SharedClassifier ? 0 : v * d);
        }
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid hyper-parameter.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is not positive or the head layout does not divide evenly.</exception>
    public void Validate()
    {
        RequirePositive(Dim, nameof(Dim));
        RequirePositive(HiddenDim, nameof(HiddenDim));
        RequirePositive(Layers, nameof(Layers));
        RequirePositive(Heads, nameof(Heads));
        RequirePositive(KvHeads, nameof(KvHeads));
        RequirePositive(VocabSize, nameof(VocabSize));
        RequirePositive(SeqLen, nameof(SeqLen));
        if (Dim % Heads != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Heads), Heads, $"Heads must divide Dim ({Dim}).");
        }

        if (Heads % KvHeads != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(KvHeads), KvHeads, $"KvHeads must divide Heads ({Heads}).");
        }

        if (HeadSize % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Heads), Heads, $"Dim / Heads = {HeadSize} must be even for rotary embeddings.");
        }

        if (!(RopeTheta > 0f) || float.IsInfinity(RopeTheta))
        {
            throw new ArgumentOutOfRangeException(nameof(RopeTheta), RopeTheta, "RopeTheta must be a positive finite number.");
        }

        RopeScaling?.Validate(HeadSize);
        if (!(NormEps > 0f) || NormEps > 1f)
        {
            throw new ArgumentOutOfRangeException(nameof(NormEps), NormEps, "NormEps must be in (0, 1].");
        }
    }

    private static void RequirePositive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
        }
    }
}
