using LlmKit.Scoring;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace LlmKit.OnnxRuntimeGenAI;

/// <summary>
/// <see cref="ITokenScorer"/> on onnxruntime-genai: token log-probabilities from the logits the native
/// <c>OgaGenerator_GetLogits</c> returns (the 0.20.0 managed API has no logits getter). The context is prefilled once per
/// call; each scored token is then appended one at a time (the native call returns only the last position's logits),
/// and <see cref="ModelTokenScorer.ScoreManyAsync"/> rewinds to the context between continuations.
/// </summary>
/// <remarks>Thread-safe: every call uses its own onnxruntime-genai generator. Work runs on the thread pool.
/// Tokens are those of the engine's <see cref="OnnxRuntimeGenAIEngine.Tokenizer"/>, the same LlmKit's own scorer uses.</remarks>
public sealed class OnnxRuntimeGenAITokenScorer : ModelTokenScorer
{
    private readonly OnnxRuntimeGenAIEngine _engine;

    /// <summary>Creates a scorer over <paramref name="engine"/> (not owned).</summary>
    public OnnxRuntimeGenAITokenScorer(OnnxRuntimeGenAIEngine engine)
        : base((engine ?? throw new ArgumentNullException(nameof(engine))).Tokenizer, engine.MaxLength, engine.VocabularySize)
    {
        _engine = engine;
    }

    /// <inheritdoc />
    protected override IReadOnlyList<TokenScores> Score(int[] prefix, int[][] continuations, CancellationToken cancellationToken) =>
        ScoreIds(prefix, continuations, cancellationToken);

    // Raw ids in: the prefix is used as given (no BOS added). Internal so tests can score the README rows id for id.
    internal TokenScores[] ScoreIds(int[] prefix, int[][] continuations, CancellationToken cancellationToken)
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
}
