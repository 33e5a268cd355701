namespace LlmKit.Scoring;

/// <summary>Tokens of a scored text with the natural-log probability the model gave each.</summary>
public sealed class TokenScores
{
    /// <summary>Creates scores for <paramref name="tokenIds"/>.</summary>
    /// <param name="tokenIds">The scored tokens.</param>
    /// <param name="logProbabilities">One natural-log probability per token.</param>
    /// <exception cref="ArgumentException">The two lists differ in length.</exception>
    public TokenScores(IReadOnlyList<int> tokenIds, IReadOnlyList<float> logProbabilities)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        ArgumentNullException.ThrowIfNull(logProbabilities);
        if (tokenIds.Count != logProbabilities.Count)
        {
            throw new ArgumentException(
                $"Expected one log-probability per token: {tokenIds.Count} tokens but {logProbabilities.Count} log-probabilities.",
                nameof(logProbabilities));
        }

        TokenIds = tokenIds;
        LogProbabilities = logProbabilities;
    }

    /// <summary>The scored token ids.</summary>
    public IReadOnlyList<int> TokenIds { get; }

    /// <summary>Natural-log probability of each token given everything before it.</summary>
    public IReadOnlyList<float> LogProbabilities { get; }

    /// <summary>Sum of the log-probabilities: log P(all tokens | prompt).</summary>
    public double TotalLogProbability
    {
        get
        {
            double sum = 0;
            for (int i = 0; i < LogProbabilities.Count; i++)
            {
                sum += LogProbabilities[i];
            }

            return sum;
        }
    }

    /// <summary>Mean log-probability per token (0 for no tokens).</summary>
    public double MeanLogProbability => TokenIds.Count == 0 ? 0 : TotalLogProbability / TokenIds.Count;

    /// <summary>Perplexity, exp(−mean log-probability).</summary>
    public double Perplexity => Math.Exp(-MeanLogProbability);
}
