namespace LlmKit.Generation;

/// <summary>Picks the most likely token (the lowest id among ties).</summary>
public sealed class GreedySampler : ITokenSampler
{
    /// <summary>The shared instance (stateless, thread-safe).</summary>
    public static GreedySampler Instance { get; } = new();

    /// <inheritdoc />
    public int Sample(ReadOnlySpan<float> logits)
    {
        int best = 0;
        float bestValue = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] > bestValue)
            {
                bestValue = logits[i];
                best = i;
            }
        }

        return best;
    }
}
