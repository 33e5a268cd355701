using System.ComponentModel;
using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Compression;

/// <summary>Semantic Kernel functions for compressing text and counting its tokens and cost.</summary>
/// <remarks>Thread-safe.</remarks>
public sealed class CompressionPlugin
{
    /// <summary>The plugin name used by the DI registration.</summary>
    public const string PluginName = "compression";

    private readonly PromptCompressor _compressor;

    /// <summary>Creates the plugin.</summary>
    /// <param name="compressor">The compressor (its target tokenizer counts tokens).</param>
    /// <exception cref="ArgumentNullException"><paramref name="compressor"/> is null.</exception>
    public CompressionPlugin(PromptCompressor compressor)
    {
        ArgumentNullException.ThrowIfNull(compressor);
        _compressor = compressor;
    }

    /// <summary>Compresses text to about <paramref name="rate"/> of its tokens.</summary>
    /// <param name="text">The text.</param>
    /// <param name="rate">Fraction of tokens to keep, in (0, 1].</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The compressed text.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is not in (0, 1].</exception>
    [KernelFunction("compress_text")]
    [Description("Shortens a text by dropping the tokens a language model finds least informative. Digits, speaker labels and line breaks are kept.")]
    public async Task<string> CompressTextAsync(
        [Description("The text to compress.")] string text,
        [Description("Fraction of tokens to keep, greater than 0 and at most 1 (0.5 halves the text).")] double rate = 0.5,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        CompressionResult result = await _compressor.CompressAsync(text, CompressionTarget.Rate(rate), cancellationToken).ConfigureAwait(false);
        return result.Text;
    }

    /// <summary>Counts the tokens of <paramref name="text"/> and estimates their cost.</summary>
    /// <param name="text">The text.</param>
    /// <param name="pricePer1KTokens">Price of 1,000 tokens, at least 0 (any currency).</param>
    /// <returns>The count and the estimated cost.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pricePer1KTokens"/> is negative or not finite.</exception>
    [KernelFunction("count_tokens")]
    [Description("Counts the tokens of a text for the target model and estimates its cost from a price per 1,000 tokens.")]
    public TokenCostEstimate CountTokens(
        [Description("The text to count.")] string text,
        [Description("Price of 1,000 tokens (0 when only the count matters).")] double pricePer1KTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!(pricePer1KTokens >= 0 && double.IsFinite(pricePer1KTokens)))
        {
            throw new ArgumentOutOfRangeException(nameof(pricePer1KTokens), pricePer1KTokens, "The price per 1,000 tokens must be a finite number at least 0.");
        }

        int tokens = _compressor.CountTokens(text);
        return new TokenCostEstimate(tokens, pricePer1KTokens, tokens * pricePer1KTokens / 1000.0);
    }
}

/// <summary>A token count and its estimated cost.</summary>
/// <param name="Tokens">Tokens counted with the target model's tokenizer.</param>
/// <param name="PricePer1KTokens">The price used.</param>
/// <param name="EstimatedCost">Tokens × price ÷ 1,000.</param>
public sealed record TokenCostEstimate(int Tokens, double PricePer1KTokens, double EstimatedCost);
