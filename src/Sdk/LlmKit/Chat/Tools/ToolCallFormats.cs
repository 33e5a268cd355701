using LlmKit.Chat.Templates;

namespace LlmKit.Chat.Tools;

/// <summary>The tool-call formats LlmKit knows, and which one each built-in chat template uses.</summary>
public static class ToolCallFormats
{
    /// <summary>Hermes 2 Pro / Qwen 2.5 <c>&lt;tool_call&gt;</c> JSON (ChatML templates).</summary>
    public static ToolCallFormat Hermes { get; } = new HermesToolCallFormat("hermes");

    /// <summary>Llama 3.1 JSON (<c>{"name": ..., "parameters": ...}</c>).</summary>
    public static ToolCallFormat Llama3Json { get; } = new Llama3JsonToolCallFormat();

    /// <summary>Mistral v0.3 <c>[TOOL_CALLS]</c>.</summary>
    public static ToolCallFormat Mistral { get; } = new MistralToolCallFormat();

    /// <summary>Phi-4-mini <c>&lt;|tool_call|&gt;</c>.</summary>
    public static ToolCallFormat Phi4 { get; } = new Phi4ToolCallFormat();

    /// <summary>
    /// LlmKit's generic form for base models with no chat template (<see cref="ChatTemplateKind.None"/>): the Hermes call
    /// syntax, with the tools listed before the conversation in plain text (see docs/chat.md).
    /// </summary>
    public static ToolCallFormat Generic { get; } = new HermesToolCallFormat("generic");

    /// <summary>The format a built-in template renders and the decoder constrains, or null when the family has none.</summary>
    /// <param name="kind">A concrete template kind.</param>
    public static ToolCallFormat? For(ChatTemplateKind kind) => kind switch
    {
        ChatTemplateKind.ChatML => Hermes,
        ChatTemplateKind.Llama3 => Llama3Json,
        ChatTemplateKind.Mistral => Mistral,
        ChatTemplateKind.Phi3 => Phi4,
        ChatTemplateKind.None => Generic,
        _ => null,
    };

    /// <summary>
    /// Recognises the call format a Jinja <c>chat_template</c> text renders, by its distinctive markers; null when none is found.
    /// </summary>
    /// <param name="chatTemplate">A folder's <c>chat_template</c> text, or null.</param>
    public static ToolCallFormat? Detect(string? chatTemplate)
    {
        if (string.IsNullOrEmpty(chatTemplate))
        {
            return null;
        }

        if (chatTemplate.Contains("<tool_call>", StringComparison.Ordinal))
        {
            return Hermes;
        }

        if (chatTemplate.Contains("[TOOL_CALLS]", StringComparison.Ordinal))
        {
            return Mistral;
        }

        if (chatTemplate.Contains("<|tool_call|>", StringComparison.Ordinal) || chatTemplate.Contains("<|tool|>", StringComparison.Ordinal))
        {
            return Phi4;
        }

        return chatTemplate.Contains("<|python_tag|>", StringComparison.Ordinal) || chatTemplate.Contains("ipython", StringComparison.Ordinal) ? Llama3Json : null;
    }
}
