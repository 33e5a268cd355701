using LlmKit.Generation;

namespace LlmKit.Chat.Tools;

/// <summary>Adds the decoding constraint of a tool request to generation settings.</summary>
internal static class ToolConstraints
{
    /// <summary>
    /// <paramref name="options"/> unchanged for now: without the constraint engine the model's output is parsed as written.
    /// </summary>
    public static GenerationOptions? Apply(GenerationOptions? options, ToolRequest? tools) => options;
}
