using System.Text;
using System.Text.Json;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.Compression.History;

internal sealed class SemanticKernelMessageAdapter : IMessageAdapter<ChatMessageContent>
{
    public static readonly SemanticKernelMessageAdapter Instance = new();

    public HistoryMessageRole RoleOf(ChatMessageContent message)
    {
        AuthorRole role = message.Role;
        return role == AuthorRole.System || role == AuthorRole.Developer ? HistoryMessageRole.System
            : role == AuthorRole.User ? HistoryMessageRole.User
            : role == AuthorRole.Assistant ? HistoryMessageRole.Assistant
            : role == AuthorRole.Tool ? HistoryMessageRole.Tool
            : HistoryMessageRole.Other;
    }

    public string? TagOf(ChatMessageContent message)
        => message.Metadata is { } metadata && metadata.TryGetValue(HistoryTags.Key, out object? value) ? value?.ToString() : null;

    public string TextOf(ChatMessageContent message)
    {
        var builder = new StringBuilder();
        foreach (KernelContent item in message.Items)
        {
            if (item is TextContent { Text: { } text })
            {
                builder.Append(text);
            }
        }

        return builder.Length == 0 && message.Items.Count == 0 ? message.Content ?? string.Empty : builder.ToString();
    }

    public void CollectFunctionContent(ChatMessageContent message, List<string> callIds, List<string> resultIds, List<string> functionNames)
    {
        foreach (KernelContent item in message.Items)
        {
            switch (item)
            {
                case FunctionCallContent call:
                    callIds.Add(call.Id ?? string.Empty);
                    functionNames.Add(call.FunctionName);
                    break;
                case FunctionResultContent result:
                    resultIds.Add(result.CallId ?? string.Empty);
                    if (result.FunctionName is { } name)
                    {
                        functionNames.Add(name);
                    }

                    break;
            }
        }
    }

    public string Render(ChatMessageContent message)
    {
        var builder = new StringBuilder();
        builder.Append(message.Role.Label).Append(": ").Append(TextOf(message));
        foreach (KernelContent item in message.Items)
        {
            switch (item)
            {
                case FunctionCallContent call:
                    builder.Append("\n[call ").Append(call.FunctionName).Append('(')
                        .Append(call.Arguments is null ? string.Empty : JsonSerializer.Serialize(call.Arguments.ToDictionary(a => a.Key, a => a.Value?.ToString())))
                        .Append(")]");
                    break;
                case FunctionResultContent result:
                    builder.Append("\n[result ").Append(result.FunctionName).Append(": ").Append(result.Result?.ToString()).Append(']');
                    break;
            }
        }

        return builder.ToString();
    }

    public ChatMessageContent Create(HistoryMessageRole role, string text, string tag)
        => new(ToAuthorRole(role), text, metadata: new Dictionary<string, object?> { [HistoryTags.Key] = tag });

    public ChatMessageContent WithText(ChatMessageContent message, string text, string tag)
    {
        var items = new ChatMessageContentItemCollection();
        bool textPlaced = false;
        foreach (KernelContent item in message.Items)
        {
            if (item is TextContent)
            {
                if (!textPlaced)
                {
                    items.Add(new TextContent(text));
                    textPlaced = true;
                }

                continue;
            }

            items.Add(item);
        }

        if (!textPlaced)
        {
            items.Insert(0, new TextContent(text));
        }

        var metadata = message.Metadata is null ? new Dictionary<string, object?>() : new Dictionary<string, object?>(message.Metadata);
        metadata[HistoryTags.Key] = tag;
        return new ChatMessageContent(message.Role, items, message.ModelId, message.InnerContent, message.Encoding, metadata)
        {
            AuthorName = message.AuthorName,
        };
    }

    private static AuthorRole ToAuthorRole(HistoryMessageRole role) => role switch
    {
        HistoryMessageRole.System => AuthorRole.System,
        HistoryMessageRole.User => AuthorRole.User,
        HistoryMessageRole.Tool => AuthorRole.Tool,
        _ => AuthorRole.Assistant,
    };
}
