namespace LlmKit.Plugins.Compression;

/// <summary>The compressed prompt and what it cost.</summary>
public sealed class CompressionResult
{
    /// <summary>Creates a result.</summary>
    /// <param name="text">The compressed prompt.</param>
    /// <param name="originalTokens">Tokens in the original prompt.</param>
    /// <param name="compressedTokens">Tokens in <paramref name="text"/>.</param>
    /// <param name="targetTokens">The token budget aimed at, or null in probability-threshold mode.</param>
    /// <param name="keptContexts">Indices of the contexts that survived coarse ranking, ascending.</param>
    /// <param name="segmentsScored">How many scorer calls the token-level pass made.</param>
    /// <param name="elapsed">Wall time of the compression.</param>
    public CompressionResult(string text, int originalTokens, int compressedTokens, int? targetTokens,
        IReadOnlyList<int> keptContexts, int segmentsScored, TimeSpan elapsed)
    {
        Text = text;
        OriginalTokens = originalTokens;
        CompressedTokens = compressedTokens;
        TargetTokens = targetTokens;
        KeptContexts = keptContexts;
        SegmentsScored = segmentsScored;
        Elapsed = elapsed;
    }

    /// <summary>The compressed prompt.</summary>
    public string Text { get; }

    /// <summary>Tokens in the original prompt, counted with the target model's tokenizer.</summary>
    public int OriginalTokens { get; }

    /// <summary>Tokens in <see cref="Text"/>, counted with the target model's tokenizer.</summary>
    public int CompressedTokens { get; }

    /// <summary>The token budget aimed at (null in probability-threshold mode).</summary>
    public int? TargetTokens { get; }

    /// <summary>Indices of the input contexts kept after coarse ranking, ascending.</summary>
    public IReadOnlyList<int> KeptContexts { get; }

    /// <summary>Number of scorer calls made by the token-level pass.</summary>
    public int SegmentsScored { get; }

    /// <summary>Wall time spent.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Achieved rate: compressed tokens ÷ original tokens (1 for an empty prompt).</summary>
    public double Ratio => OriginalTokens == 0 ? 1 : (double)CompressedTokens / OriginalTokens;

    /// <summary>Compression factor: original ÷ compressed tokens (e.g. 4 for "4× smaller").</summary>
    public double CompressionFactor => CompressedTokens == 0 ? double.PositiveInfinity : (double)OriginalTokens / CompressedTokens;

    /// <summary>False when forced content (instruction, question, force-kept strings) alone exceeds the budget.</summary>
    public bool TargetMet => TargetTokens is null || CompressedTokens <= TargetTokens;
}
