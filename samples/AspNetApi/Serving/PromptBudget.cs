using LlmKit.Chat.Templates;
using LlmKit.Models;
using LlmKit.Samples.AspNetApi.OpenAI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmKit.Samples.AspNetApi.Serving;

/// <summary>
/// Counts a conversation's prompt tokens the way the chat client will (its chat template, then the model's
/// tokenizer) and refuses prompts over <see cref="ServerOptions.MaxPromptTokens"/> or the model's max length.
/// </summary>
/// <remarks>Thread-safe (templates and tokenizers are).</remarks>
public sealed class PromptBudget
{
    private readonly IChatTemplate _template;
    private readonly OnnxGenAIModel _model;

    /// <summary>Creates the budget for the chat client's template and model.</summary>
    /// <param name="chatClient">The served chat client; it must expose its <see cref="IChatTemplate"/> and <see cref="OnnxGenAIModel"/> through GetService.</param>
    /// <param name="options">The server options.</param>
    public PromptBudget(IChatClient chatClient, IOptions<ServerOptions> options)
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        ArgumentNullException.ThrowIfNull(options);
        _template = chatClient.GetService<IChatTemplate>() ?? throw new InvalidOperationException("The registered IChatClient does not expose an IChatTemplate; register LlmKit with AddLlmKit.");
        _model = chatClient.GetService<OnnxGenAIModel>() ?? throw new InvalidOperationException("The registered IChatClient does not expose its OnnxGenAIModel; register LlmKit with AddLlmKit.");
        MaxPromptTokens = Math.Min(options.Value.MaxPromptTokens ?? int.MaxValue, _model.MaxLength - 1);
    }

    /// <summary>The most prompt tokens a request may have.</summary>
    public int MaxPromptTokens { get; }

    /// <summary>Counts the prompt tokens of <paramref name="messages"/> and throws when there are too many.</summary>
    /// <param name="messages">The conversation.</param>
    /// <returns>The prompt's token count.</returns>
    /// <exception cref="ApiException">Too many tokens (400, code <c>context_length_exceeded</c>) or roles the template refuses (400).</exception>
    public int Check(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var rendered = new ChatTemplateMessage[messages.Count];
        for (int i = 0; i < rendered.Length; i++)
        {
            var role = messages[i].Role == ChatRole.System ? ChatTemplateRole.System
                : messages[i].Role == ChatRole.Assistant ? ChatTemplateRole.Assistant
                : ChatTemplateRole.User;
            rendered[i] = new ChatTemplateMessage(role, messages[i].Text);
        }

        ChatPrompt prompt;
        try
        {
            prompt = _template.Render(rendered);
        }
        catch (ArgumentException ex)
        {
            throw ApiException.BadRequest("messages", $"The conversation does not fit the model's {_template.Kind} chat template: {ex.Message}");
        }

        int tokens = _model.Tokenizer.Encode(prompt.Text, prompt.AddBos).Length;
        if (tokens > MaxPromptTokens)
        {
            throw ApiException.BadRequest("messages",
                $"The prompt has {tokens} tokens but this server accepts at most {MaxPromptTokens} (model max length {_model.MaxLength}, which must also hold the answer). Shorten the messages.",
                "context_length_exceeded");
        }

        return tokens;
    }
}
