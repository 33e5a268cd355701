namespace LlmKit.Generation;

/// <summary>
/// Proposes draft tokens by prompt lookup: the latest earlier occurrence of the sequence's last n tokens (longest n
/// first) and the tokens that followed it. Allocation-free; O(sequence x n) per call.
/// </summary>
internal sealed class PromptLookupDrafter
{
    private readonly int _minNGram;
    private readonly int _maxNGram;

    public PromptLookupDrafter(PromptLookupOptions options)
    {
        options.Validate();
        DraftTokens = options.DraftTokens;
        _minNGram = options.MinNGram;
        _maxNGram = options.MaxNGram;
    }

    /// <summary>Most drafts per call.</summary>
    public int DraftTokens { get; }

    /// <summary>
    /// Writes up to <paramref name="drafts"/>.Length tokens that followed an earlier occurrence of the end of
    /// <paramref name="sequence"/>; returns how many (0: no n-gram recurs).
    /// </summary>
    public int Draft(ReadOnlySpan<int> sequence, Span<int> drafts)
    {
        if (drafts.IsEmpty)
        {
            return 0;
        }

        for (int n = Math.Min(_maxNGram, sequence.Length - 1); n >= _minNGram; n--)
        {
            var tail = sequence[^n..];
            int bestStart = -1;
            int bestAvailable = 0;

            // Latest occurrence first; an earlier one wins only if the latest is followed by fewer tokens than wanted.
            for (int start = sequence.Length - n - 1; start >= 0; start--)
            {
                if (sequence[start] != tail[0] || !sequence.Slice(start, n).SequenceEqual(tail))
                {
                    continue;
                }

                int available = sequence.Length - (start + n);
                if (available > bestAvailable)
                {
                    (bestStart, bestAvailable) = (start + n, available);
                    if (available >= drafts.Length)
                    {
                        break;
                    }
                }
            }

            if (bestStart >= 0)
            {
                int count = Math.Min(drafts.Length, bestAvailable);
                sequence.Slice(bestStart, count).CopyTo(drafts);
                return count;
            }
        }

        return 0;
    }
}
