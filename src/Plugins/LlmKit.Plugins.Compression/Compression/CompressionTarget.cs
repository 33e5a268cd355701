using System.Globalization;

namespace LlmKit.Plugins.Compression;

/// <summary>How much a prompt should shrink: a kept-token rate, a token budget, or a probability threshold.</summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class CompressionTarget
{
    private CompressionTarget(CompressionTargetKind kind, double value)
    {
        Kind = kind;
        Value = value;
    }

    /// <summary>Which kind of target this is.</summary>
    public CompressionTargetKind Kind { get; }

    /// <summary>The rate (0, 1], the token count, or the probability threshold (0, 1), depending on <see cref="Kind"/>.</summary>
    public double Value { get; }

    /// <summary>Keep about <paramref name="rate"/> of the prompt's tokens (0.25 = compress 4×), counted in real tokens.</summary>
    /// <param name="rate">Fraction of tokens to keep, in (0, 1]; 1 returns the prompt unchanged.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is not in (0, 1].</exception>
    public static CompressionTarget Rate(double rate)
    {
        if (!(rate > 0 && rate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The compression rate is the fraction of tokens to keep and must be in (0, 1].");
        }

        return new CompressionTarget(CompressionTargetKind.Rate, rate);
    }

    /// <summary>Keep at most <paramref name="maxTokens"/> tokens; a prompt already within the budget is returned unchanged.</summary>
    /// <param name="maxTokens">The token budget, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTokens"/> is less than 1.</exception>
    public static CompressionTarget Tokens(int maxTokens)
    {
        if (maxTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The token budget must be at least 1.");
        }

        return new CompressionTarget(CompressionTargetKind.Tokens, maxTokens);
    }

    /// <summary>
    /// Drop every prunable unit the scorer predicts with probability at least <paramref name="probability"/>
    /// (self-information at most −ln p; for whole words, their mean self-information per token), whatever rate that gives.
    /// </summary>
    /// <param name="probability">The threshold, in (0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="probability"/> is not in (0, 1).</exception>
    public static CompressionTarget ProbabilityThreshold(double probability)
    {
        if (!(probability > 0 && probability < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "The probability threshold must be in (0, 1).");
        }

        return new CompressionTarget(CompressionTargetKind.ProbabilityThreshold, probability);
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        CompressionTargetKind.Rate => string.Create(CultureInfo.InvariantCulture, $"rate {Value:0.###}"),
        CompressionTargetKind.Tokens => string.Create(CultureInfo.InvariantCulture, $"at most {Value:0} tokens"),
        _ => string.Create(CultureInfo.InvariantCulture, $"drop tokens with p >= {Value:0.###}"),
    };
}

/// <summary>The kinds of <see cref="CompressionTarget"/>.</summary>
public enum CompressionTargetKind
{
    /// <summary>A fraction of tokens to keep.</summary>
    Rate,

    /// <summary>A maximum number of tokens.</summary>
    Tokens,

    /// <summary>A probability above which tokens are dropped.</summary>
    ProbabilityThreshold,
}
