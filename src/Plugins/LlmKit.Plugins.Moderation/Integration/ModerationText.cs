using System.Text;
using System.Text.Json;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.Moderation.Integration;

/// <summary>Turns the values SK passes around (arguments, results) into the text to check.</summary>
internal static class ModerationText
{
    /// <summary>The text of a value, or null when it carries none (numbers, nulls).</summary>
    public static string? Of(object? value)
    {
        switch (value)
        {
            case null:
                return null;
            case string s:
                return s;
            case ChatMessageContent message:
                return message.Content;
            case ChatHistory history:
                return LastUserMessage(history);
            case IEnumerable<ChatMessageContent> messages:
                return string.Join("\n", messages.Select(m => m.Content));
            case IFormattable or bool:
                return null;
            default:
                try
                {
                    // Structured tool output: check every string inside it, as the model will read it.
                    return JsonSerializer.Serialize(value, value.GetType());
                }
                catch (NotSupportedException)
                {
                    return value.ToString();
                }
                catch (JsonException)
                {
                    return value.ToString();
                }
        }
    }

    private static string? LastUserMessage(ChatHistory history)
    {
        for (int i = history.Count - 1; i >= 0; i--)
        {
            if (history[i].Role == AuthorRole.User)
            {
                var builder = new StringBuilder();
                foreach (var item in history[i].Items)
                {
                    if (item is TextContent text)
                    {
                        builder.Append(text.Text).Append('\n');
                    }
                }

                return builder.ToString();
            }
        }

        return null;
    }
}
