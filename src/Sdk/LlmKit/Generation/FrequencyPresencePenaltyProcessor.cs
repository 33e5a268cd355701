namespace LlmKit.Generation;

/// <summary>
/// OpenAI frequency and presence penalties over the GENERATED tokens (as vLLM does; the prompt is not counted):
/// logit[t] -= frequency * count(t) + presence * (count(t) &gt; 0).
/// </summary>
public sealed class FrequencyPresencePenaltyProcessor : ILogitsProcessor
{
    private readonly float _frequency;
    private readonly float _presence;
    private readonly int[] _counts;

    /// <summary>Creates the processor; both penalties in [-2, 2].</summary>
    public FrequencyPresencePenaltyProcessor(float frequencyPenalty, float presencePenalty, int vocabularySize)
    {
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2))
        {
            throw new ArgumentOutOfRangeException(nameof(frequencyPenalty), frequencyPenalty, "frequency_penalty must be in [-2, 2].");
        }

        if (!(presencePenalty >= -2 && presencePenalty <= 2))
        {
            throw new ArgumentOutOfRangeException(nameof(presencePenalty), presencePenalty, "presence_penalty must be in [-2, 2].");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        _frequency = frequencyPenalty;
        _presence = presencePenalty;
        _counts = new int[vocabularySize];
    }

    /// <inheritdoc />
    public void Process(Span<float> logits, TokenHistory history)
    {
        var generated = history.Generated;
        foreach (int token in generated)
        {
            if ((uint)token < (uint)_counts.Length)
            {
                _counts[token]++;
            }
        }

        foreach (int token in generated)
        {
            if ((uint)token >= (uint)_counts.Length || _counts[token] == 0)
            {
                continue;
            }

            int count = _counts[token];
            logits[token] -= (_frequency * count) + _presence;
            _counts[token] = 0;
        }
    }
}
