namespace LlmKit.Generation;

/// <summary>
/// Draws a token with probability softmax(logits). A seed makes the draws reproducible across runs
/// (same .NET version); without one the draws differ each time.
/// </summary>
/// <remarks>Not thread-safe: one instance per sequence.</remarks>
public sealed class MultinomialSampler : ITokenSampler
{
    private readonly Random _random;

    /// <summary>Creates the sampler.</summary>
    /// <param name="seed">Seed for reproducible draws; null for a random seed.</param>
    public MultinomialSampler(long? seed)
    {
        _random = seed is { } s ? new Random(unchecked((int)(s ^ (s >> 32)))) : new Random();
    }

    /// <inheritdoc />
    public int Sample(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits)
        {
            max = MathF.Max(max, v);
        }

        double total = 0;
        foreach (float v in logits)
        {
            total += MathF.Exp(v - max);
        }

        double target = _random.NextDouble() * total;
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float v = logits[i];
            if (float.IsNegativeInfinity(v))
            {
                continue;
            }

            last = i;
            cumulative += MathF.Exp(v - max);
            if (cumulative > target)
            {
                return i;
            }
        }

        // Rounding left target at the very top of the range: the last surviving token.
        return last;
    }
}
