using LlmKit.Chat.Tools;

namespace LlmKit.Chat.Templates;

/// <summary>
/// No chat template, for base models: the message texts are joined with newlines and sent as plain completion
/// text, so a single message is passed through unchanged (the model continues it). BOS follows the folder.
/// </summary>
public sealed class PlainTextTemplate : IChatTemplate
{
    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.None;

    /// <inheritdoc />
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ConversationRules.RequireMessages(messages);
        if (messages.Count == 1)
        {
            return new ChatPrompt(messages[0].Content, AddBos: null);
        }

        var parts = new string[messages.Count];
        for (int i = 0; i < parts.Length; i++)
        {
            parts[i] = messages[i].Content;
        }

        return new ChatPrompt(string.Join('\n', parts), AddBos: null);
    }

    /// <inheritdoc />
    /// <remarks>With tools, calls or results: LlmKit's generic form (<see cref="ToolCallFormats.Generic"/>, documented in docs/chat.md).
    /// There is no generation prompt to omit.</remarks>
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ToolPrompts.UsesTools(messages, options) ? ToolPrompts.RenderGeneric(messages, options) : Render(messages);
    }
}
