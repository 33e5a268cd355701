using System.Text;
using LlmKit.Chat.Tools;

namespace LlmKit.Chat.Templates;

/// <summary>
/// Llama 3 / 3.x instruct, as in meta-llama/Meta-Llama-3-8B-Instruct's <c>chat_template</c>:
/// <c>&lt;|begin_of_text|&gt;</c>, then per message <c>&lt;|start_header_id|&gt;{role}&lt;|end_header_id|&gt;\n\n{content | trim}&lt;|eot_id|&gt;</c>,
/// then <c>&lt;|start_header_id|&gt;assistant&lt;|end_header_id|&gt;\n\n</c>.
/// </summary>
public sealed class Llama3ChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.Llama3;

    /// <inheritdoc />
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ConversationRules.RequireMessages(messages);
        var text = new StringBuilder("<|begin_of_text|>");
        foreach (var message in messages)
        {
            text.Append("<|start_header_id|>").Append(ConversationRules.RoleName(message.Role)).Append("<|end_header_id|>\n\n")
                .Append(message.Content.Trim()).Append("<|eot_id|>");
        }

        text.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return new ChatPrompt(text.ToString(), AddBos: false);
    }

    /// <inheritdoc />
    /// <remarks>With tools, calls or results: Llama 3.1's template (<see cref="ToolCallFormats.Llama3Json"/>): the ipython environment header,
    /// the tools in the first user message, results as role <c>ipython</c>, one call per assistant turn.</remarks>
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (ToolPrompts.UsesTools(messages, options))
        {
            return ToolPrompts.RenderLlama31(messages, options);
        }

        var prompt = Render(messages);
        return options.AddGenerationPrompt ? prompt : prompt with { Text = prompt.Text[..^"<|start_header_id|>assistant<|end_header_id|>\n\n".Length] };
    }
}
