using System.Text;

namespace LlmKit.Chat.Templates;

/// <summary>
/// Zephyr, as in HuggingFaceH4/zephyr-7b-beta's <c>chat_template</c> (rendered with Hugging Face's
/// <c>trim_blocks</c>): <c>&lt;|{role}|&gt;\n{content}&lt;/s&gt;\n</c> per message, then <c>&lt;|assistant|&gt;\n</c>.
/// The template writes no BOS; encoding follows the folder's <c>add_bos_token</c>.
/// </summary>
public sealed class ZephyrChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.Zephyr;

    /// <inheritdoc />
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ConversationRules.RequireMessages(messages);
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append("<|").Append(ConversationRules.RoleName(message.Role)).Append("|>\n").Append(message.Content).Append("</s>\n");
        }

        text.Append("<|assistant|>\n");
        return new ChatPrompt(text.ToString(), AddBos: null);
    }
}
