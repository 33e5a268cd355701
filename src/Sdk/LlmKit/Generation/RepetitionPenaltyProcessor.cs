namespace LlmKit.Generation;

/// <summary>
/// Hugging Face repetition penalty: for every distinct token already in the sequence (prompt included), a positive
/// logit is divided by the penalty and a negative one multiplied by it.
/// </summary>
public sealed class RepetitionPenaltyProcessor : ILogitsProcessor
{
    private readonly float _penalty;
    private readonly bool[] _seen;

    /// <summary>Creates the processor.</summary>
    /// <param name="penalty">Penalty &gt; 0; 1 changes nothing, &gt; 1 discourages repeats.</param>
    /// <param name="vocabularySize">Length of the logits.</param>
    public RepetitionPenaltyProcessor(float penalty, int vocabularySize)
    {
        if (!(penalty > 0 && float.IsFinite(penalty)))
        {
            throw new ArgumentOutOfRangeException(nameof(penalty), penalty, "repetition_penalty must be a finite number > 0.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        _penalty = penalty;
        _seen = new bool[vocabularySize];
    }

    /// <inheritdoc />
    public void Process(Span<float> logits, TokenHistory history)
    {
        foreach (int token in history.All)
        {
            if ((uint)token >= (uint)logits.Length || _seen[token])
            {
                continue;
            }

            _seen[token] = true;
            float value = logits[token];
            logits[token] = value > 0 ? value / _penalty : value * _penalty;
        }

        // Reset only the entries we set, so the cost is O(sequence), not O(vocabulary).
        foreach (int token in history.All)
        {
            if ((uint)token < (uint)_seen.Length)
            {
                _seen[token] = false;
            }
        }
    }
}
