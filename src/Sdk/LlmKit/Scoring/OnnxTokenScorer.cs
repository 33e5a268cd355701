using LlmKit.Models;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Scoring;

/// <summary>
/// <see cref="ITokenScorer"/> over a local <see cref="OnnxGenAIModel"/>: one prefill per call returns the
/// logits of every position, from which each token's log-probability is read (log-softmax).
/// <see cref="ScoreManyAsync"/> prefills the prompt once and runs each continuation on its KV cache.
/// </summary>
/// <remarks>Thread-safe; concurrent calls use separate KV states. Work runs on the thread pool.</remarks>
public sealed class OnnxTokenScorer : ITokenScorer
{
    private readonly OnnxGenAIModel _model;

    /// <summary>Creates a scorer over <paramref name="model"/> (not owned: the caller disposes the model).</summary>
    public OnnxTokenScorer(OnnxGenAIModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
    }

    /// <inheritdoc />
    public Tokenizer Tokenizer => _model.Tokenizer.Inner;

    /// <inheritdoc />
    public int MaxSequenceLength => _model.MaxLength;

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

        var tokenizer = _model.Tokenizer;
        int[] promptIds = tokenizer.Encode(prompt, addBos: false);
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

        return Task.Run(() => ScoreShared(promptIds, continuationIds, cancellationToken), cancellationToken);
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

        int[] context = [.. contextTokenIds];
        int[] tokens = [.. tokenIds];
        return Task.Run(() => ScoreShared(context, [tokens], cancellationToken)[0].LogProbabilities.ToArray(), cancellationToken);
    }

    private IReadOnlyList<TokenScores> ScoreShared(int[] contextIds, int[][] continuations, CancellationToken cancellationToken)
    {
        int bos = _model.Tokenizer.AddBos ? _model.Tokenizer.BosTokenId : -1;
        int[] prefix = bos >= 0 ? [bos, .. contextIds] : contextIds;
        int vocab = _model.VocabularySize;
        Validate(prefix, continuations);

        var state = _model.RentState(prefix);
        try
        {
            // The distribution that predicts each continuation's first token: the prefix's last row. The rented
            // state may already hold all but the prefix's last token (a context scored before).
            float[]? firstRow = null;
            if (prefix.Length > 0)
            {
                int cached = state.Length;
                var logits = state.Append(prefix.AsSpan(cached), cancellationToken);
                firstRow = logits[((prefix.Length - cached - 1) * vocab)..].ToArray();
            }

            int prefixLength = state.Length;
            var results = new TokenScores[continuations.Length];
            for (int c = 0; c < continuations.Length; c++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int[] tokens = continuations[c];
                var scores = new float[tokens.Length];
                scores[0] = firstRow is null ? 0f : LogProbability(firstRow, tokens[0]);
                if (tokens.Length > 1)
                {
                    // Feed all but the last token: row i predicts token i + 1.
                    var logits = state.Append(tokens.AsSpan(0, tokens.Length - 1), cancellationToken);
                    for (int i = 1; i < tokens.Length; i++)
                    {
                        scores[i] = LogProbability(logits.Slice((i - 1) * vocab, vocab), tokens[i]);
                    }

                    state.Rewind(prefixLength);
                }

                results[c] = new TokenScores(tokens, scores);
            }

            return results;
        }
        finally
        {
            _model.ReturnState(state);
        }
    }

    private void Validate(int[] prefix, int[][] continuations)
    {
        foreach (var tokens in continuations)
        {
            if (prefix.Length + tokens.Length > _model.MaxLength)
            {
                throw new ArgumentException(
                    $"Scoring needs {prefix.Length + tokens.Length} tokens (BOS, context and scored tokens) but the model's max length is {_model.MaxLength}; split the text into windows.");
            }

            foreach (int id in prefix.Concat(tokens))
            {
                if ((uint)id >= (uint)_model.VocabularySize)
                {
                    throw new ArgumentException($"Token id {id} is outside the vocabulary [0, {_model.VocabularySize}).");
                }
            }
        }
    }

    // The continuation's tokens as they appear inside prompt + continuation; if the prompt's own tokens are not a
    // prefix of that (a merge across the boundary), the continuation is tokenized on its own.
    private int[] ContinuationTokens(int[] promptIds, string joined, string continuation)
    {
        int[] full = _model.Tokenizer.Encode(joined, addBos: false);
        if (full.Length > promptIds.Length && full.AsSpan(0, promptIds.Length).SequenceEqual(promptIds))
        {
            return full[promptIds.Length..];
        }

        return _model.Tokenizer.Encode(continuation, addBos: false);
    }

    /// <summary>log softmax(row)[token], computed stably.</summary>
    internal static float LogProbability(ReadOnlySpan<float> row, int token)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp(v - max);
        }

        return (float)(row[token] - max - Math.Log(sum));
    }
}
