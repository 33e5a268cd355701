namespace LlmKit.Plugins.Compression;

/// <summary>
/// A prompt in three parts, LLMLingua-style: an instruction, contexts or demonstrations, and a question.
/// The instruction and question are kept verbatim unless the options allow compressing them; contexts are ranked
/// against the question, dropped whole when they rank low, then pruned token by token.
/// </summary>
/// <param name="Instruction">Leading instruction; may be null or empty.</param>
/// <param name="Contexts">Contexts or demonstrations, in prompt order; may be empty.</param>
/// <param name="Question">Trailing question; may be null or empty.</param>
public sealed record PromptParts(string? Instruction, IReadOnlyList<string> Contexts, string? Question)
{
    /// <summary>Text placed between parts when the prompt is assembled (default: a blank line).</summary>
    public string Separator { get; init; } = "\n\n";

    /// <summary>
    /// Text the contexts are ranked against when it should not appear in the output (e.g. the newest user turn while
    /// older turns are compressed); when null, <see cref="Question"/> is used.
    /// </summary>
    public string? Query { get; init; }

    /// <summary>A prompt made of one context only.</summary>
    /// <param name="text">The whole prompt.</param>
    public static PromptParts FromText(string text) => new(null, [text], null);
}
