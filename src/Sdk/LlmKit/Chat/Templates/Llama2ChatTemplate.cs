using System.Text;

namespace LlmKit.Chat.Templates;

/// <summary>
/// Llama 2 chat, as in meta-llama/Llama-2-7b-chat-hf's <c>chat_template</c>: each user turn is
/// <c>&lt;s&gt;[INST] {content} [/INST]</c>, each assistant turn <c> {content} &lt;/s&gt;</c> (contents stripped), and a
/// leading system message is wrapped in <c>&lt;&lt;SYS&gt;&gt;\n...\n&lt;&lt;/SYS&gt;&gt;\n\n</c> inside the first user turn.
/// Roles must alternate user/assistant.
/// </summary>
public sealed class Llama2ChatTemplate : IChatTemplate
{
    private const string Bos = "<s>";
    private const string Eos = "</s>";

    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.Llama2;

    /// <inheritdoc />
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ConversationRules.RequireMessages(messages);
        var (system, start) = ConversationRules.LeadingSystem(messages, Kind);
        ConversationRules.RequireAlternation(messages, start, Kind);
        var text = new StringBuilder();
        for (int i = start; i < messages.Count; i++)
        {
            string content = i == start && system is not null
                ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + messages[i].Content
                : messages[i].Content;
            if (messages[i].Role == ChatTemplateRole.User)
            {
                text.Append(Bos).Append("[INST] ").Append(content.Trim()).Append(" [/INST]");
            }
            else
            {
                text.Append(' ').Append(content.Trim()).Append(' ').Append(Eos);
            }
        }

        return new ChatPrompt(text.ToString(), AddBos: false);
    }
}
