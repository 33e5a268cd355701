namespace LlmKit.Generation;

/// <summary>
/// Forbids any token that would complete an n-gram already present in the sequence (Hugging Face's
/// no_repeat_ngram_size, prompt included).
/// </summary>
public sealed class NoRepeatNGramProcessor : ILogitsProcessor
{
    private readonly int _n;

    /// <summary>Creates the processor for n-grams of size <paramref name="n"/> (&gt;= 1).</summary>
    public NoRepeatNGramProcessor(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        _n = n;
    }

    /// <inheritdoc />
    public void Process(Span<float> logits, TokenHistory history)
    {
        var all = history.All;
        if (all.Length < _n)
        {
            return;
        }

        // The last n-1 tokens; any earlier occurrence of them bans the token that followed it.
        var tail = all[(all.Length - _n + 1)..];
        for (int start = 0; start + _n <= all.Length; start++)
        {
            if (all.Slice(start, _n - 1).SequenceEqual(tail))
            {
                int banned = all[start + _n - 1];
                if ((uint)banned < (uint)logits.Length)
                {
                    logits[banned] = float.NegativeInfinity;
                }
            }
        }
    }
}
