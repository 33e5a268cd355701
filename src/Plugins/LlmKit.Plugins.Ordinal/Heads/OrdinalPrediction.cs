namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>The output of an ordinal head for one input.</summary>
public sealed class OrdinalPrediction
{
    private readonly float[] _exceedance;
    private readonly float[] _classProbabilities;

    private OrdinalPrediction(float[] exceedance)
    {
        _exceedance = exceedance;
        _classProbabilities = new float[exceedance.Length + 1];
        ClassProbabilitiesFromExceedance(exceedance, _classProbabilities);
        Rank = RankFromExceedance(exceedance);
        ExpectedRank = ExpectedRankFromExceedance(exceedance);
    }

    /// <summary>The predicted rank (0-based): the number of thresholds with P(y &gt; k) &gt; 0.5.</summary>
    public int Rank { get; }

    /// <summary>The expected rank E[y] = Σ_k P(y &gt; k), on the 0 … K−1 scale.</summary>
    public double ExpectedRank { get; }

    /// <summary>P(y &gt; k) for k = 0 … K−2.</summary>
    public IReadOnlyList<float> Exceedance => _exceedance;

    /// <summary>P(y = k) for k = 0 … K−1 (non-negative, summing to 1 up to rounding).</summary>
    public IReadOnlyList<float> ClassProbabilities => _classProbabilities;

    /// <summary>Builds a prediction from exceedance probabilities (copied).</summary>
    /// <param name="exceedance">P(y &gt; k) for k = 0 … K−2; at least one value, each in [0, 1].</param>
    /// <exception cref="ArgumentException">The span is empty or a value is outside [0, 1].</exception>
    public static OrdinalPrediction FromExceedance(ReadOnlySpan<float> exceedance)
    {
        if (exceedance.IsEmpty)
        {
            throw new ArgumentException("At least one threshold probability is needed (a scale has two or more ranks).", nameof(exceedance));
        }

        for (int k = 0; k < exceedance.Length; k++)
        {
            if (!(exceedance[k] >= 0f && exceedance[k] <= 1f))
            {
                throw new ArgumentException($"P(y > {k}) = {exceedance[k]} is not a probability in [0, 1].", nameof(exceedance));
            }
        }

        return new OrdinalPrediction(exceedance.ToArray());
    }

    /// <summary>The predicted rank from exceedance probabilities: how many exceed 0.5. Allocation-free.</summary>
    /// <param name="exceedance">P(y &gt; k) for k = 0 … K−2.</param>
    public static int RankFromExceedance(ReadOnlySpan<float> exceedance)
    {
        int rank = 0;
        foreach (float p in exceedance)
        {
            if (p > 0.5f)
            {
                rank++;
            }
        }

        return rank;
    }

    /// <summary>The expected rank Σ_k P(y &gt; k). Allocation-free.</summary>
    /// <param name="exceedance">P(y &gt; k) for k = 0 … K−2.</param>
    public static double ExpectedRankFromExceedance(ReadOnlySpan<float> exceedance)
    {
        double sum = 0;
        foreach (float p in exceedance)
        {
            sum += p;
        }

        return sum;
    }

    /// <summary>
    /// Class probabilities P(y = k) = P(y &gt; k−1) − P(y &gt; k), clipped at 0 so that rounding in a
    /// rank-consistent head never yields a tiny negative probability.
    /// </summary>
    /// <param name="exceedance">P(y &gt; k) for k = 0 … K−2.</param>
    /// <param name="destination">Destination of length K.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not one longer than <paramref name="exceedance"/>.</exception>
    public static void ClassProbabilitiesFromExceedance(ReadOnlySpan<float> exceedance, Span<float> destination)
    {
        if (destination.Length != exceedance.Length + 1)
        {
            throw new ArgumentException($"Destination must hold {exceedance.Length + 1} class probabilities, not {destination.Length}.", nameof(destination));
        }

        float previous = 1f;
        for (int k = 0; k < exceedance.Length; k++)
        {
            destination[k] = MathF.Max(0f, previous - exceedance[k]);
            previous = exceedance[k];
        }

        destination[exceedance.Length] = MathF.Max(0f, previous);
    }

    internal static OrdinalPrediction Own(float[] exceedance) => new(exceedance);
}
