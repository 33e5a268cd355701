using Microsoft.ML.Tokenizers;

namespace LlmKit.Scoring;

/// <summary>
/// Reads a language model's log-probabilities for tokens of a text. Plugins use it for
/// constrained verdicts (compare log P(" True") with log P(" False")) and for LLMLingua-style
/// compression (drop the tokens the model finds least surprising).
/// </summary>
/// <remarks>
/// Implementations are thread-safe: one scorer may serve concurrent calls.
/// The model's beginning-of-sequence token, when the model uses one, is always prepended by the
/// scorer; callers never pass it.
/// </remarks>
public interface ITokenScorer
{
    /// <summary>The tokenizer of the scoring model; token ids passed to and returned by this scorer are in its vocabulary.</summary>
    Tokenizer Tokenizer { get; }

    /// <summary>The most tokens (context plus scored tokens, BOS included) one scoring call can take.</summary>
    int MaxSequenceLength { get; }

    /// <summary>
    /// Scores every token of <paramref name="continuation"/> when it directly follows <paramref name="prompt"/>.
    /// The continuation is tokenized as it would be inside <c>prompt + continuation</c>.
    /// </summary>
    /// <param name="prompt">Conditioning text; may be empty.</param>
    /// <param name="continuation">Text whose tokens are scored; must not be empty.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The continuation's tokens and their natural-log probabilities.</returns>
    Task<TokenScores> ScoreAsync(string prompt, string continuation, CancellationToken cancellationToken = default);

    /// <summary>
    /// Scores several candidate continuations of one prompt, sharing the prompt's prefill where possible.
    /// </summary>
    /// <param name="prompt">Conditioning text; may be empty.</param>
    /// <param name="continuations">Candidate continuations; none may be empty.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One <see cref="TokenScores"/> per continuation, in order.</returns>
    Task<IReadOnlyList<TokenScores>> ScoreManyAsync(string prompt, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default);

    /// <summary>
    /// Scores token ids directly: element <c>i</c> of the result is log P(tokenIds[i] | BOS, context, tokenIds[..i]).
    /// Use this when the caller owns the tokenization (e.g. prompt compression works on one token sequence).
    /// </summary>
    /// <param name="contextTokenIds">Conditioning tokens (without BOS); may be empty.</param>
    /// <param name="tokenIds">Tokens to score; must not be empty.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One natural-log probability per scored token. For a model without a BOS token and an empty
    /// context, the first token has nothing to condition on and is reported as 0.</returns>
    /// <exception cref="ArgumentException">The total length exceeds <see cref="MaxSequenceLength"/>, or an id is outside the vocabulary.</exception>
    Task<float[]> ScoreTokensAsync(IReadOnlyList<int> contextTokenIds, IReadOnlyList<int> tokenIds, CancellationToken cancellationToken = default);
}
