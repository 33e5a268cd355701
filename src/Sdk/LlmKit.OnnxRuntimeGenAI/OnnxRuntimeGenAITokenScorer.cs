using System.Numerics.Tensors;
using LlmKit.Scoring;
using Microsoft.ML.OnnxRuntimeGenAI;
using Microsoft.ML.Tokenizers;
using Tokenizer = Microsoft.ML.Tokenizers.Tokenizer;

namespace LlmKit.OnnxRuntimeGenAI;

/// <summary>
/// <see cref="ITokenScorer"/> on onnxruntime-genai: token log-probabilities from the logits the native
/// <c>OgaGenerator_GetLogits</c> returns (the 0.20.0 managed API has no logits getter). The context is prefilled once per
/// call; each scored token is then appended one at a time (the native call returns only the last position's logits),
/// and <see cref="ScoreManyAsync"/> rewinds to the context between continuations.
/// </summary>
/// <remarks>Thread-safe: every call uses its own onnxruntime-genai generator. Work runs on the thread pool.
/// Tokens are those of the engine's <see cref="OnnxRuntimeGenAIEngine.Tokenizer"/>, the same LlmKit's own scorer uses.</remarks>
public sealed class OnnxRuntimeGenAITokenScorer : ITokenScorer
{
    private readonly OnnxRuntimeGenAIEngine _engine;

    /// <summary>Creates a scorer over <paramref name="engine"/> (not owned).</summary>
    public OnnxRuntimeGenAITokenScorer(OnnxRuntimeGenAIEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
    }

    /// <inheritdoc />
    public Tokenizer Tokenizer => _engine.Tokenizer.Inner;

    /// <inheritdoc />
    public int MaxSequenceLength => _engine.MaxLength;

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

        var tokenizer = _engine.Tokenizer;
        int[] promptIds = tokenizer.Encode(prompt, addBos: false);
        var continuationIds = new int[continuations.Count][];
        for (int i = 0; i < continuations.Count; i++)
        {
            string continuation = continuations[i] ?? throw new ArgumentException($"Continuation {i} is null.", nameof(continuations));
            if (continuation.Length == 0)
            {
                throw new ArgumentException($"Continuation {i} is empty.", nameof(continuations));
            }

            // The continuation's tokens as they appear inside prompt + continuation, unless a merge crosses the boundary.
            int[] joined = tokenizer.Encode(prompt + continuation, addBos: false);
            continuationIds[i] = joined.Length > promptIds.Length && joined.AsSpan(0, promptIds.Length).SequenceEqual(promptIds)
                ? joined[promptIds.Length..]
                : tokenizer.Encode(continuation, addBos: false);
        }

        var prefix = Prefix(promptIds);
        Validate(prefix, continuationIds);
        return Task.Run<IReadOnlyList<TokenScores>>(() => Score(prefix, continuationIds, cancellationToken), cancellationToken);
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
    internal static float LogProbability(ReadOnlySpan<float> row, int token)
    {
        float max = TensorPrimitives.Max(row);
        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp(v - max);
        }

        return (float)(row[token] - max - Math.Log(sum));
    }

    private int[] Prefix(int[] context)
    {
        var tokenizer = _engine.Tokenizer;
        return tokenizer.AddBos && tokenizer.BosTokenId >= 0 ? [tokenizer.BosTokenId, .. context] : context;
    }

    // Raw ids in: the prefix is used as given (no BOS added). Internal so tests can score the README rows id for id.
    internal TokenScores[] Score(int[] prefix, int[][] continuations, CancellationToken cancellationToken)
    {
        int longest = 0;
        foreach (var tokens in continuations)
        {
            longest = Math.Max(longest, tokens.Length);
        }

        var row = new float[_engine.VocabularySize];
        using var parameters = new GeneratorParams(_engine.NativeModel);
        parameters.SetSearchOption("max_length", prefix.Length + longest);
        parameters.SetSearchOption("do_sample", false);
        using var generator = new Generator(_engine.NativeModel, parameters);

        // The distribution that predicts each continuation's first token: the prefix's last position.
        float[]? first = null;
        if (prefix.Length > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            generator.AppendTokens(prefix);
            _engine.CopyLastLogits(generator, row);
            first = (float[])row.Clone();
        }

        var results = new TokenScores[continuations.Length];
        for (int c = 0; c < continuations.Length; c++)
        {
            int[] tokens = continuations[c];
            var scores = new float[tokens.Length];
            scores[0] = first is null ? 0f : LogProbability(first, tokens[0]);
            for (int i = 1; i < tokens.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                generator.AppendTokens(tokens.AsSpan(i - 1, 1));
                _engine.CopyLastLogits(generator, row);
                scores[i] = LogProbability(row, tokens[i]);
            }

            results[c] = new TokenScores(tokens, scores);
            if (c + 1 < continuations.Length && tokens.Length > 1)
            {
                generator.RewindTo((ulong)prefix.Length);
            }
        }

        return results;
    }

    private void Validate(int[] prefix, int[][] continuations)
    {
        _engine.ValidateTokens(prefix, "contextTokenIds");
        foreach (var tokens in continuations)
        {
            if (prefix.Length + tokens.Length > _engine.MaxLength)
            {
                throw new ArgumentException(
                    $"Scoring needs {prefix.Length + tokens.Length} tokens (BOS, context and scored tokens) but the model's max length is {_engine.MaxLength}; split the text into windows.");
            }

            _engine.ValidateTokens(tokens, "tokenIds");
        }
    }
}
