using System.Text;
using LlmKit.Chat.Tools;

namespace LlmKit.Chat.Templates;

/// <summary>
/// Phi-3 / Phi-3.5 instruct, as in microsoft/Phi-3-mini-4k-instruct's <c>chat_template</c>:
/// <c>&lt;|{role}|&gt;\n{content}&lt;|end|&gt;\n</c> per message, then <c>&lt;|assistant|&gt;\n</c>.
/// The template writes no BOS; encoding follows the folder's <c>add_bos_token</c>.
/// </summary>
public sealed class Phi3ChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.Phi3;

    /// <inheritdoc />
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ConversationRules.RequireMessages(messages);
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append("<|").Append(ConversationRules.RoleName(message.Role)).Append("|>\n").Append(message.Content).Append("<|end|>\n");
        }

        text.Append("<|assistant|>\n");
        return new ChatPrompt(text.ToString(), AddBos: null);
    }

    /// <inheritdoc />
    /// <remarks>With tools: Phi-4-mini's tool block (<see cref="ToolCallFormats.Phi4"/>) in the system message, kept in this template's
    /// <c>&lt;|role|&gt;\n</c> framing; tool results are rendered as role <c>tool</c>, as Phi-4-mini's template does.</remarks>
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ToolPrompts.RenderPhi4(messages, options);
    }
}
