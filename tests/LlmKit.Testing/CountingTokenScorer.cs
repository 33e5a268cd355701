using LlmKit.Scoring;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Testing;

/// <summary>
/// Passes every call to a real <see cref="ITokenScorer"/> and counts the work: calls, and the tokens scored and
/// conditioned on. Tests assert these counts (work per operation, linear scaling) instead of wall-clock times, which
/// a shared machine makes flaky. Thread-safe.
/// </summary>
public sealed class CountingTokenScorer(ITokenScorer inner) : ITokenScorer
{
    private int _calls;
    private long _scoredTokens;
    private long _contextTokens;

    /// <summary>Calls of any scoring method.</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Tokens passed to <see cref="ScoreTokensAsync"/> to be scored.</summary>
    public long ScoredTokens => Interlocked.Read(ref _scoredTokens);

    /// <summary>Context tokens passed to <see cref="ScoreTokensAsync"/> to condition on.</summary>
    public long ContextTokens => Interlocked.Read(ref _contextTokens);

    /// <inheritdoc />
    public Tokenizer Tokenizer => inner.Tokenizer;

    /// <inheritdoc />
    public int MaxSequenceLength => inner.MaxSequenceLength;

    /// <summary>Sets every count back to zero.</summary>
    public void Reset()
    {
        Volatile.Write(ref _calls, 0);
        Interlocked.Exchange(ref _scoredTokens, 0);
        Interlocked.Exchange(ref _contextTokens, 0);
    }

    /// <inheritdoc />
    public Task<TokenScores> ScoreAsync(string prompt, string continuation, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        return inner.ScoreAsync(prompt, continuation, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<TokenScores>> ScoreManyAsync(string prompt, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        return inner.ScoreManyAsync(prompt, continuations, cancellationToken);
    }

    /// <inheritdoc />
    public Task<float[]> ScoreTokensAsync(IReadOnlyList<int> contextTokenIds, IReadOnlyList<int> tokenIds, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Add(ref _scoredTokens, tokenIds.Count);
        Interlocked.Add(ref _contextTokens, contextTokenIds.Count);
        return inner.ScoreTokensAsync(contextTokenIds, tokenIds, cancellationToken);
    }
}
