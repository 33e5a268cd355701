using System.Text;
using LlmKit.Chat.Tools;

namespace LlmKit.Chat.Templates;

/// <summary>
/// Mistral instruct, as in mistralai/Mistral-7B-Instruct-v0.2's <c>chat_template</c>: <c>&lt;s&gt;</c>, then
/// <c>[INST] {content} [/INST]</c> per user turn and <c>{content}&lt;/s&gt;</c> per assistant turn; roles alternate.
/// That template has no system role: a leading system message is put before the first user message's text,
/// separated by a blank line (what Mistral's later v0.3 template does with its system message).
/// </summary>
public sealed class MistralChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.Mistral;

    /// <inheritdoc />
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ConversationRules.RequireMessages(messages);
        var (system, start) = ConversationRules.LeadingSystem(messages, Kind);
        ConversationRules.RequireAlternation(messages, start, Kind);
        var text = new StringBuilder("<s>");
        for (int i = start; i < messages.Count; i++)
        {
            if (messages[i].Role == ChatTemplateRole.User)
            {
                string content = i == start && system is not null ? system + "\n\n" + messages[i].Content : messages[i].Content;
                text.Append("[INST] ").Append(content).Append(" [/INST]");
            }
            else
            {
                text.Append(messages[i].Content).Append("</s>");
            }
        }

        return new ChatPrompt(text.ToString(), AddBos: false);
    }

    /// <inheritdoc />
    /// <remarks>With tools, calls or results: Mistral-7B-Instruct-v0.3's template (<see cref="ToolCallFormats.Mistral"/>): tools before the
    /// last user message, which also carries the system message; 9-character call ids. Mistral prompts have no separate generation prompt.</remarks>
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ToolPrompts.UsesTools(messages, options) ? ToolPrompts.RenderMistralV3(messages, options) : Render(messages);
    }
}
