using System.Text;

namespace LlmKit.Chat.Templates;

/// <summary>
/// Gemma instruct, as in google/gemma-2-2b-it's <c>chat_template</c>: <c>&lt;bos&gt;</c>, then
/// <c>&lt;start_of_turn&gt;{user|model}\n{content | trim}&lt;end_of_turn&gt;\n</c> per message, then <c>&lt;start_of_turn&gt;model\n</c>;
/// roles alternate. Gemma 2 has no system role: a leading system message is put before the first user message's
/// text followed by a blank line, as google/gemma-3's template does.
/// </summary>
public sealed class GemmaChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.Gemma;

    /// <inheritdoc />
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ConversationRules.RequireMessages(messages);
        var (system, start) = ConversationRules.LeadingSystem(messages, Kind);
        ConversationRules.RequireAlternation(messages, start, Kind);
        var text = new StringBuilder("<bos>");
        for (int i = start; i < messages.Count; i++)
        {
            bool user = messages[i].Role == ChatTemplateRole.User;
            text.Append("<start_of_turn>").Append(user ? "user" : "model").Append('\n');
            if (i == start && system is not null)
            {
                text.Append(system).Append("\n\n");
            }

            text.Append(messages[i].Content.Trim()).Append("<end_of_turn>\n");
        }

        text.Append("<start_of_turn>model\n");
        return new ChatPrompt(text.ToString(), AddBos: false);
    }
}
