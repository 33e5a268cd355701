using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Compression;

/// <summary>
/// An <see cref="IPromptRenderFilter"/> that compresses a rendered prompt over a token budget. In SK chat prompts
/// (<c>&lt;message role="…"&gt;</c> blocks), leading system messages are treated as the instruction and the last
/// user message as the question, both kept verbatim; the messages between are compressed.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed partial class PromptCompressionFilter : IPromptRenderFilter
{
    private readonly PromptCompressor _compressor;
    private readonly ILogger _logger;

    /// <summary>Creates the filter.</summary>
    /// <param name="compressor">The compressor.</param>
    /// <param name="maxPromptTokens">Prompts with more tokens than this are compressed to it; at least 16.</param>
    /// <param name="logger">Logger; null for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="compressor"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPromptTokens"/> is less than 16.</exception>
    public PromptCompressionFilter(PromptCompressor compressor, int maxPromptTokens, ILogger<PromptCompressionFilter>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(compressor);
        if (maxPromptTokens < 16)
        {
            throw new ArgumentOutOfRangeException(nameof(maxPromptTokens), maxPromptTokens, "The prompt budget must be at least 16 tokens.");
        }

        _compressor = compressor;
        MaxPromptTokens = maxPromptTokens;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The prompt budget in tokens.</summary>
    public int MaxPromptTokens { get; }

    /// <inheritdoc />
    public async Task OnPromptRenderAsync(PromptRenderContext context, Func<PromptRenderContext, Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        await next(context).ConfigureAwait(false);
        string? prompt = context.RenderedPrompt;
        if (string.IsNullOrEmpty(prompt))
        {
            return;
        }

        int tokens = _compressor.CountTokens(prompt);
        if (tokens <= MaxPromptTokens)
        {
            return;
        }

        CompressionResult result = await _compressor.CompressAsync(Split(prompt), CompressionTarget.Tokens(MaxPromptTokens), context.CancellationToken).ConfigureAwait(false);
        context.RenderedPrompt = result.Text;
        LogCompressed(context.Function.Name, tokens, result.CompressedTokens, MaxPromptTokens);
    }

    /// <summary>Splits an SK chat prompt into leading system messages, middle messages and the last user message.</summary>
    internal static PromptParts Split(string prompt)
    {
        MatchCollection blocks = MessageBlock().Matches(prompt);
        if (blocks.Count < 2)
        {
            return new PromptParts(null, [prompt], null) { Separator = string.Empty };
        }

        int instructionEnd = 0;
        foreach (Match block in blocks)
        {
            if (block.Groups["role"].Value != "system" || prompt.AsSpan(instructionEnd, block.Index - instructionEnd).Trim().Length > 0)
            {
                break;
            }

            instructionEnd = block.Index + block.Length;
        }

        Match last = blocks[^1];
        int questionStart = last.Groups["role"].Value == "user" && last.Index >= instructionEnd && prompt.AsSpan(last.Index + last.Length).Trim().Length == 0
            ? last.Index
            : prompt.Length;
        return new PromptParts(
            prompt[..instructionEnd],
            [prompt[instructionEnd..questionStart]],
            prompt[questionStart..])
        { Separator = string.Empty };
    }

    [GeneratedRegex("<message\\s+role=\"(?<role>[a-z]+)\"[^>]*>[\\s\\S]*?</message>")]
    private static partial Regex MessageBlock();

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Compressed the rendered prompt of {Function} from {Before} to {After} tokens (budget {Budget}).")]
    private partial void LogCompressed(string function, int before, int after, int budget);
}
