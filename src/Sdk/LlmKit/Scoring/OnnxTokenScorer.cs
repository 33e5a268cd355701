using LlmKit.Models;

namespace LlmKit.Scoring;

/// <summary>
/// <see cref="ITokenScorer"/> over a local <see cref="OnnxGenAIModel"/>: one prefill per call returns the
/// logits of every position, from which each token's log-probability is read (log-softmax).
/// <see cref="ModelTokenScorer.ScoreManyAsync"/> prefills the prompt once and runs each continuation on its KV cache.
/// </summary>
/// <remarks>Thread-safe; concurrent calls use separate KV states. Work runs on the thread pool.</remarks>
public sealed class OnnxTokenScorer : ModelTokenScorer
{
    private readonly OnnxGenAIModel _model;

    /// <summary>Creates a scorer over <paramref name="model"/> (not owned: the caller disposes the model).</summary>
    public OnnxTokenScorer(OnnxGenAIModel model)
        : base((model ?? throw new ArgumentNullException(nameof(model))).Tokenizer, model.MaxLength, model.VocabularySize)
    {
        _model = model;
    }

    /// <inheritdoc />
    protected override IReadOnlyList<TokenScores> Score(int[] prefix, int[][] continuations, CancellationToken cancellationToken)
    {
        int vocab = _model.VocabularySize;
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
}
