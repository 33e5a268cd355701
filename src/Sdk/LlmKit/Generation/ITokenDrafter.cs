namespace LlmKit.Generation;

/// <summary>Proposes draft tokens for <see cref="Generator"/>'s speculative step (prompt lookup or a draft model).</summary>
internal interface ITokenDrafter : IDisposable
{
    /// <summary>Drafts wanted next call.</summary>
    int NextLength { get; }

    /// <summary>Writes up to <paramref name="drafts"/>.Length tokens likely to follow <paramref name="sequence"/>; returns how many (0: none).</summary>
    int Draft(ReadOnlySpan<int> sequence, Span<int> drafts, CancellationToken cancellationToken);

    /// <summary>Adapts <see cref="NextLength"/> to the outcome of a verification.</summary>
    void Record(int drafted, int accepted);
}
