using LlmKit.Tokenization;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Scoring;

/// <summary>
/// What every engine's <see cref="ITokenScorer"/> shares: tokenizing the context and continuations with the model's
/// tokenizer (a continuation's tokens as they appear after the context), BOS as the model uses it, validation of
/// lengths and ids, and log-softmax. An engine supplies only <see cref="Score"/>: log-probabilities for ids.
/// </summary>
/// <remarks>Thread-safe when <see cref="Score"/> is. Work runs on the thread pool.</remarks>
public abstract class ModelTokenScorer : ITokenScorer
{
    private readonly ModelTokenizer _tokenizer;
    private readonly int _vocabularySize;

    /// <summary>Creates the shared part of a scorer.</summary>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="maxSequenceLength">Most tokens (BOS, context and scored tokens) one call may hold.</param>
    /// <param name="vocabularySize">Length of the model's logits rows.</param>
    protected ModelTokenScorer(ModelTokenizer tokenizer, int maxSequenceLength, int vocabularySize)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        MaxSequenceLength = maxSequenceLength;
        _vocabularySize = vocabularySize;
    }

    /// <inheritdoc />
    public Tokenizer Tokenizer => _tokenizer.Inner;

    /// <inheritdoc />
    public int MaxSequenceLength { get; }

    /// <inheritdoc />
    public async Task<TokenScores> ScoreAsync(string prompt, string continuation, CancellationToken cancellationToken = default)
    {
        var results = await ScoreManyAsync(prompt, [continuation], cancellationToken).ConfigureAwait(false);
        return results[0];
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<TokenScores>> ScoreManyAsync(string prompt, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(continuations);
        if (continuations.Count == 0)
        {
            throw new ArgumentException("At least one continuation is required.", nameof(continuations));
        }

        int[] promptIds = _tokenizer.Encode(prompt, addBos: false);
        var continuationIds = new int[continuations.Count][];
        for (int i = 0; i < continuations.Count; i++)
        {
            string continuation = continuations[i] ?? throw new ArgumentException($"Continuation {i} is null.", nameof(continuations));
            if (continuation.Length == 0)
            {
                throw new ArgumentException($"Continuation {i} is empty.", nameof(continuations));
            }

            continuationIds[i] = ContinuationTokens(promptIds, prompt + continuation, continuation);
        }

        int[] prefix = Prefix(promptIds);
        Validate(prefix, continuationIds);
        return Task.Run(() => Score(prefix, continuationIds, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<float[]> ScoreTokensAsync(IReadOnlyList<int> contextTokenIds, IReadOnlyList<int> tokenIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contextTokenIds);
        ArgumentNullException.ThrowIfNull(tokenIds);
        if (tokenIds.Count == 0)
        {
            throw new ArgumentException("At least one token to score is required.", nameof(tokenIds));
        }

        int[] prefix = Prefix([.. contextTokenIds]);
        int[] tokens = [.. tokenIds];
        Validate(prefix, [tokens]);
        return Task.Run(() => Score(prefix, [tokens], cancellationToken)[0].LogProbabilities.ToArray(), cancellationToken);
    }

    /// <summary>Natural-log softmax of <paramref name="row"/> at <paramref name="token"/>, computed stably.</summary>
    /// <param name="row">One position's logits.</param>
    /// <param name="token">The token whose log-probability is read.</param>
    public static float LogProbability(ReadOnlySpan<float> row, int token)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp(v - max);
        }

        return (float)(row[token] - max - Math.Log(sum));
    }

    /// <summary>
    /// Log-probabilities of each continuation's tokens after <paramref name="prefix"/> (BOS already added, ids and lengths
    /// already checked). The first token of each continuation is predicted by the prefix's last position (0 when the
    /// prefix is empty); continuation token i by the continuation's position i − 1.
    /// </summary>
    /// <param name="prefix">The ids every continuation follows.</param>
    /// <param name="continuations">The ids to score, each non-empty.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    protected abstract IReadOnlyList<TokenScores> Score(int[] prefix, int[][] continuations, CancellationToken cancellationToken);

    private int[] Prefix(int[] context) =>
        _tokenizer.AddBos && _tokenizer.BosTokenId >= 0 ? [_tokenizer.BosTokenId, .. context] : context;

    private void Validate(int[] prefix, int[][] continuations)
    {
        CheckIds(prefix);
        foreach (var tokens in continuations)
        {
            if (prefix.Length + tokens.Length > MaxSequenceLength)
            {
                throw new ArgumentException(
                    $"Scoring needs {prefix.Length + tokens.Length} tokens (BOS, context and scored tokens) but the model's max length is {MaxSequenceLength}; split the text into windows.");
            }

            CheckIds(tokens);
        }
    }

    private void CheckIds(int[] ids)
    {
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_vocabularySize)
            {
                throw new ArgumentException($"Token id {id} is outside the vocabulary [0, {_vocabularySize}).");
            }
        }
    }

    // The continuation's tokens as they appear inside prompt + continuation; if the prompt's own tokens are not a
    // prefix of that (a merge across the boundary), the continuation is tokenized on its own.
    private int[] ContinuationTokens(int[] promptIds, string joined, string continuation)
    {
        int[] full = _tokenizer.Encode(joined, addBos: false);
        if (full.Length > promptIds.Length && full.AsSpan(0, promptIds.Length).SequenceEqual(promptIds))
        {
            return full[promptIds.Length..];
        }

        return _tokenizer.Encode(continuation, addBos: false);
    }
}
