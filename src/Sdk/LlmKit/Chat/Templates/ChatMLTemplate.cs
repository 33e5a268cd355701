using System.Text;
using LlmKit.Chat.Tools;

namespace LlmKit.Chat.Templates;

/// <summary>
/// ChatML, as in teknium/OpenHermes-2.5-Mistral-7B's and Qwen2/2.5's <c>chat_template</c>:
/// <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per message, then <c>&lt;|im_start|&gt;assistant\n</c>.
/// Qwen 2.5's template also inserts a default system message when there is none; this template does not.
/// </summary>
public sealed class ChatMLTemplate : IChatTemplate
{
    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.ChatML;

    /// <inheritdoc />
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ConversationRules.RequireMessages(messages);
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append("<|im_start|>").Append(ConversationRules.RoleName(message.Role)).Append('\n')
                .Append(message.Content).Append("<|im_end|>\n");
        }

        text.Append("<|im_start|>assistant\n");
        return new ChatPrompt(text.ToString(), AddBos: null);
    }

    /// <inheritdoc />
    /// <remarks>With tools, calls or results: Qwen 2.5's tool form (<see cref="ToolCallFormats.Hermes"/>), the tools listed in the system turn.</remarks>
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ToolPrompts.RenderQwen(messages, options);
    }
}
