using LlmKit.Scoring;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Compression.Scoring;

/// <summary>
/// A model-free <see cref="ITokenScorer"/>: log-probabilities from an interpolated bigram/unigram model whose counts
/// come from an optional background corpus plus the text being scored (an adaptive "cache" model, so a token that
/// already appeared nearby becomes predictable and is pruned first).
/// </summary>
/// <remarks>
/// This is the fallback when no language model is available (a remote chat service). It is much weaker than a
/// model's log-probabilities: it knows nothing of syntax or meaning beyond adjacent-token statistics, so it mostly
/// prunes repetition and frequent function words. Thread-safe: the background counts are read-only after
/// construction and each call keeps its own adaptive counts.
/// </remarks>
public sealed class StatisticalTokenScorer : ITokenScorer
{
    // Interpolation weights: bigram evidence first, unigram next, a uniform floor so no token has probability 0.
    private const double BigramWeight = 0.55;
    private const double UnigramWeight = 0.40;
    private const double UniformWeight = 0.05;
    private const double AssumedVocabularySize = 50_000;

    private readonly Dictionary<int, int> _backgroundUnigrams = [];
    private readonly Dictionary<long, int> _backgroundBigrams = [];
    private readonly Dictionary<int, int> _backgroundFollowers = [];
    private readonly long _backgroundTotal;

    /// <summary>Creates a scorer over <paramref name="tokenizer"/>.</summary>
    /// <param name="tokenizer">Tokenizer whose ids are scored (use the target model's tokenizer when known).</param>
    /// <param name="backgroundCorpus">Optional representative texts; their token statistics make common words predictable from the start.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tokenizer"/> is null.</exception>
    public StatisticalTokenScorer(Tokenizer tokenizer, IEnumerable<string>? backgroundCorpus = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        Tokenizer = tokenizer;
        if (backgroundCorpus is null)
        {
            return;
        }

        foreach (string text in backgroundCorpus)
        {
            if (string.IsNullOrEmpty(text))
            {
                continue;
            }

            IReadOnlyList<int> ids = tokenizer.EncodeToIds(text);
            for (int i = 0; i < ids.Count; i++)
            {
                Increment(_backgroundUnigrams, ids[i]);
                if (i > 0)
                {
                    Increment(_backgroundBigrams, Pair(ids[i - 1], ids[i]));
                    Increment(_backgroundFollowers, ids[i - 1]);
                }
            }

            _backgroundTotal += ids.Count;
        }
    }

    /// <inheritdoc />
    public Tokenizer Tokenizer { get; }

    /// <summary>Unbounded in practice: the statistics have no context window.</summary>
    public int MaxSequenceLength => int.MaxValue;

    /// <inheritdoc />
    public Task<TokenScores> ScoreAsync(string prompt, string continuation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentException.ThrowIfNullOrEmpty(continuation);
        cancellationToken.ThrowIfCancellationRequested();
        (int[] context, int[] scored) = SplitTokens(prompt, continuation);
        return Task.FromResult(new TokenScores(scored, Score(context, scored)));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<TokenScores>> ScoreManyAsync(string prompt, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(continuations);
        var results = new TokenScores[continuations.Count];
        for (int i = 0; i < continuations.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (string.IsNullOrEmpty(continuations[i]))
            {
                throw new ArgumentException($"Continuation {i} is empty; every continuation must have at least one character.", nameof(continuations));
            }

            (int[] context, int[] scored) = SplitTokens(prompt, continuations[i]);
            results[i] = new TokenScores(scored, Score(context, scored));
        }

        return Task.FromResult<IReadOnlyList<TokenScores>>(results);
    }

    /// <inheritdoc />
    public Task<float[]> ScoreTokensAsync(IReadOnlyList<int> contextTokenIds, IReadOnlyList<int> tokenIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contextTokenIds);
        ArgumentNullException.ThrowIfNull(tokenIds);
        if (tokenIds.Count == 0)
        {
            throw new ArgumentException("At least one token must be scored.", nameof(tokenIds));
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Score(contextTokenIds, tokenIds));
    }

    private float[] Score(IReadOnlyList<int> context, IReadOnlyList<int> tokens)
    {
        // Adaptive counts for this call only, seeded with the context.
        var unigrams = new Dictionary<int, int>();
        var bigrams = new Dictionary<long, int>();
        var followers = new Dictionary<int, int>();
        long total = 0;
        int previous = -1;
        for (int i = 0; i < context.Count; i++)
        {
            Observe(context[i], previous, unigrams, bigrams, followers);
            previous = context[i];
            total++;
        }

        var result = new float[tokens.Count];
        for (int i = 0; i < tokens.Count; i++)
        {
            int token = tokens[i];
            double unigram = (Count(unigrams, _backgroundUnigrams, token) + 0.5) / (total + _backgroundTotal + (0.5 * AssumedVocabularySize));
            double probability = (UnigramWeight * unigram) + (UniformWeight / AssumedVocabularySize);
            if (previous >= 0)
            {
                int followerCount = Count(followers, _backgroundFollowers, previous);
                double bigram = followerCount == 0 ? unigram : (double)Count(bigrams, _backgroundBigrams, Pair(previous, token)) / followerCount;
                probability += BigramWeight * bigram;
            }
            else
            {
                probability += BigramWeight * unigram;
            }

            result[i] = (float)Math.Log(probability);
            Observe(token, previous, unigrams, bigrams, followers);
            previous = token;
            total++;
        }

        return result;
    }

    private (int[] Context, int[] Scored) SplitTokens(string prompt, string continuation)
    {
        IReadOnlyList<EncodedToken> tokens = Tokenizer.EncodeToTokens(prompt + continuation, out _);
        var context = new List<int>(tokens.Count);
        var scored = new List<int>(tokens.Count);
        foreach (EncodedToken token in tokens)
        {
            (token.Offset.Start.Value >= prompt.Length ? scored : context).Add(token.Id);
        }

        if (scored.Count == 0 && context.Count > 0)
        {
            // The continuation merged into the prompt's last token: score that token.
            scored.Add(context[^1]);
            context.RemoveAt(context.Count - 1);
        }

        return (context.ToArray(), scored.ToArray());
    }

    private static void Observe(int token, int previous, Dictionary<int, int> unigrams, Dictionary<long, int> bigrams, Dictionary<int, int> followers)
    {
        Increment(unigrams, token);
        if (previous >= 0)
        {
            Increment(bigrams, Pair(previous, token));
            Increment(followers, previous);
        }
    }

    private static int Count<TKey>(Dictionary<TKey, int> local, Dictionary<TKey, int> background, TKey key)
        where TKey : notnull
        => local.GetValueOrDefault(key) + background.GetValueOrDefault(key);

    private static void Increment<TKey>(Dictionary<TKey, int> counts, TKey key)
        where TKey : notnull
        => counts[key] = counts.GetValueOrDefault(key) + 1;

    private static long Pair(int previous, int token) => ((long)previous << 32) | (uint)token;
}
