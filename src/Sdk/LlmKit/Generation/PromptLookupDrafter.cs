namespace LlmKit.Generation;

/// <summary>
/// Proposes draft tokens by prompt lookup: the latest earlier occurrence of the sequence's last n tokens (longest n
/// first) and the tokens that followed it. Allocation-free; O(sequence x n) per call.
/// </summary>
/// <remarks>
/// The draft length adapts to how the model takes the drafts: after a rejection the next draft is one token longer than
/// the accepted run was, after a fully accepted draft it grows by two, up to <see cref="PromptLookupOptions.DraftTokens"/>.
/// Free text that happens to repeat an n-gram then costs short verification runs, while a long copy soon drafts in full.
/// </remarks>
internal sealed class PromptLookupDrafter : ITokenDrafter
{
    private readonly int _minNGram;
    private readonly int _maxNGram;

    public PromptLookupDrafter(PromptLookupOptions options)
    {
        options.Validate();
        DraftTokens = options.DraftTokens;
        NextLength = options.DraftTokens;
        _minNGram = options.MinNGram;
        _maxNGram = options.MaxNGram;
    }

    /// <summary>Most drafts per call.</summary>
    public int DraftTokens { get; }

    /// <summary>Drafts wanted next call, in [1, <see cref="DraftTokens"/>].</summary>
    public int NextLength { get; private set; }

    /// <summary>Adapts <see cref="NextLength"/> to the outcome of a verification.</summary>
    public void Record(int drafted, int accepted) =>
        NextLength = accepted == drafted ? Math.Min(DraftTokens, NextLength + 2) : Math.Min(DraftTokens, accepted + 1);

    /// <inheritdoc />
    int ITokenDrafter.Draft(ReadOnlySpan<int> sequence, Span<int> drafts, CancellationToken cancellationToken) => Draft(sequence, drafts);

    /// <summary>Holds nothing to release.</summary>
    public void Dispose()
    {
    }

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
