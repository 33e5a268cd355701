using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.Compression.History;

internal sealed class ExtensionsAIMessageAdapter : IMessageAdapter<ChatMessage>
{
    public static readonly ExtensionsAIMessageAdapter Instance = new();

    public HistoryMessageRole RoleOf(ChatMessage message)
    {
        ChatRole role = message.Role;
        return role == ChatRole.System ? HistoryMessageRole.System
            : role == ChatRole.User ? HistoryMessageRole.User
            : role == ChatRole.Assistant ? HistoryMessageRole.Assistant
            : role == ChatRole.Tool ? HistoryMessageRole.Tool
            : HistoryMessageRole.Other;
    }

    public string? TagOf(ChatMessage message)
        => message.AdditionalProperties is { } properties && properties.TryGetValue(HistoryTags.Key, out object? value) ? value?.ToString() : null;

    public string TextOf(ChatMessage message) => message.Text;

    public void CollectFunctionContent(ChatMessage message, List<string> callIds, List<string> resultIds, List<string> functionNames)
    {
        foreach (AIContent content in message.Contents)
        {
            switch (content)
            {
                case FunctionCallContent call:
                    callIds.Add(call.CallId);
                    functionNames.Add(call.Name);
                    break;
                case FunctionResultContent result:
                    resultIds.Add(result.CallId);
                    break;
            }
        }
    }

    public string Render(ChatMessage message)
    {
        var builder = new StringBuilder();
        builder.Append(message.Role.Value).Append(": ").Append(message.Text);
        foreach (AIContent content in message.Contents)
        {
            switch (content)
            {
                case FunctionCallContent call:
                    builder.Append("\n[call ").Append(call.Name).Append('(')
                        .Append(call.Arguments is null ? string.Empty : JsonSerializer.Serialize(call.Arguments.ToDictionary(a => a.Key, a => a.Value?.ToString())))
                        .Append(")]");
                    break;
                case FunctionResultContent result:
                    builder.Append("\n[result ").Append(result.CallId).Append(": ").Append(result.Result?.ToString()).Append(']');
                    break;
            }
        }

        return builder.ToString();
    }

    public ChatMessage Create(HistoryMessageRole role, string text, string tag)
        => new(ToChatRole(role), text) { AdditionalProperties = new AdditionalPropertiesDictionary { [HistoryTags.Key] = tag } };

    public ChatMessage WithText(ChatMessage message, string text, string tag)
    {
        var contents = new List<AIContent>(message.Contents.Count + 1);
        bool textPlaced = false;
        foreach (AIContent content in message.Contents)
        {
            if (content is TextContent)
            {
                if (!textPlaced)
                {
                    contents.Add(new TextContent(text));
                    textPlaced = true;
                }

                continue;
            }

            contents.Add(content);
        }

        if (!textPlaced)
        {
            contents.Insert(0, new TextContent(text));
        }

        var properties = message.AdditionalProperties is null ? new AdditionalPropertiesDictionary() : new AdditionalPropertiesDictionary(message.AdditionalProperties);
        properties[HistoryTags.Key] = tag;
        return new ChatMessage(message.Role, contents)
        {
            AuthorName = message.AuthorName,
            MessageId = message.MessageId,
            CreatedAt = message.CreatedAt,
            AdditionalProperties = properties,
        };
    }

    private static ChatRole ToChatRole(HistoryMessageRole role) => role switch
    {
        HistoryMessageRole.System => ChatRole.System,
        HistoryMessageRole.User => ChatRole.User,
        HistoryMessageRole.Tool => ChatRole.Tool,
        _ => ChatRole.Assistant,
    };
}
