namespace LlmKit.Chat.Templates;

/// <summary>Checks shared by the templates: the role rules that the published Jinja templates enforce with <c>raise_exception</c>.</summary>
internal static class ConversationRules
{
    public static void RequireMessages(IReadOnlyList<ChatTemplateMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new ArgumentException("The conversation must have at least one message.", nameof(messages));
        }

        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is null || messages[i].Content is null)
            {
                throw new ArgumentException($"Message {i} is null or has null content.", nameof(messages));
            }
        }
    }

    /// <summary>Splits off a leading system message; a system message anywhere else is rejected.</summary>
    public static (string? System, int Start) LeadingSystem(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateKind kind)
    {
        for (int i = 1; i < messages.Count; i++)
        {
            if (messages[i].Role == ChatTemplateRole.System)
            {
                throw new ArgumentException($"The {kind} template accepts a system message only as the first message (found one at position {i}).", nameof(messages));
            }
        }

        return messages[0].Role == ChatTemplateRole.System ? (messages[0].Content, 1) : (null, 0);
    }

    /// <summary>The published Llama 2, Mistral and Gemma templates require user/assistant/user/... after the system message.</summary>
    public static void RequireAlternation(IReadOnlyList<ChatTemplateMessage> messages, int start, ChatTemplateKind kind)
    {
        if (start >= messages.Count)
        {
            throw new ArgumentException($"The {kind} template needs at least one user message after the system message.", nameof(messages));
        }

        for (int i = start; i < messages.Count; i++)
        {
            bool shouldBeUser = (i - start) % 2 == 0;
            if ((messages[i].Role == ChatTemplateRole.User) != shouldBeUser)
            {
                throw new ArgumentException(
                    $"The {kind} template requires roles to alternate user/assistant/user/... (message {i} is {messages[i].Role}).", nameof(messages));
            }
        }
    }

    public static string RoleName(ChatTemplateRole role) => role switch
    {
        ChatTemplateRole.System => "system",
        ChatTemplateRole.User => "user",
        ChatTemplateRole.Assistant => "assistant",
        ChatTemplateRole.Tool => "tool",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Unknown chat role."),
    };
}
