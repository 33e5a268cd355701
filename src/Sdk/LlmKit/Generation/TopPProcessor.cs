namespace LlmKit.Generation;

/// <summary>
/// Nucleus filter: keeps the most likely tokens whose probabilities sum to at least p (the most likely token
/// always survives) and removes the rest.
/// </summary>
public sealed class TopPProcessor : ILogitsProcessor
{
    private readonly float _p;
    private readonly float[] _keys;
    private readonly int[] _order;

    /// <summary>Creates the processor; <paramref name="p"/> in (0, 1].</summary>
    public TopPProcessor(float p, int vocabularySize)
    {
        if (!(p > 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "top_p must be in (0, 1].");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        _p = p;
        _keys = new float[vocabularySize];
        _order = new int[vocabularySize];
    }

    /// <inheritdoc />
    public void Process(Span<float> logits, TokenHistory history)
    {
        if (_p >= 1)
        {
            return;
        }

        int n = logits.Length;
        var keys = _keys.AsSpan(0, n);
        var order = _order.AsSpan(0, n);
        float max = float.NegativeInfinity;
        for (int i = 0; i < n; i++)
        {
            max = MathF.Max(max, logits[i]);
        }

        double total = 0;
        for (int i = 0; i < n; i++)
        {
            float weight = MathF.Exp(logits[i] - max);
            keys[i] = -weight;
            order[i] = i;
            total += weight;
        }

        keys.Sort(order);
        double cumulative = 0;
        int keep = 0;
        while (keep < n)
        {
            cumulative += -keys[keep];
            keep++;
            if (cumulative >= _p * total)
            {
                break;
            }
        }

        for (int i = keep; i < n; i++)
        {
            logits[order[i]] = float.NegativeInfinity;
        }
    }
}
