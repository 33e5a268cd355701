namespace LlmKit.Generation;

/// <summary>Removes tokens whose probability is below min_p times the most likely token's probability.</summary>
public sealed class MinPProcessor : ILogitsProcessor
{
    private readonly float _logMinP;

    /// <summary>Creates the processor; <paramref name="minP"/> in (0, 1].</summary>
    public MinPProcessor(float minP)
    {
        if (!(minP > 0 && minP <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(minP), minP, "min_p must be in (0, 1] (0 turns it off: do not add the processor).");
        }

        _logMinP = MathF.Log(minP);
    }

    /// <inheritdoc />
    public void Process(Span<float> logits, TokenHistory history)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits)
        {
            max = MathF.Max(max, v);
        }

        // p_i / p_max = exp(l_i - l_max) < min_p  <=>  l_i < l_max + ln(min_p)
        float threshold = max + _logMinP;
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] < threshold)
            {
                logits[i] = float.NegativeInfinity;
            }
        }
    }
}
