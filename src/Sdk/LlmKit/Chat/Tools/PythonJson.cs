using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LlmKit.Chat.Tools;

/// <summary>
/// Writes JSON the way Hugging Face chat templates' <c>tojson</c> filter does (Python's <c>json.dumps</c> with
/// <c>ensure_ascii=False</c>): <c>", "</c> and <c>": "</c> separators, or with <c>indent</c> one member per line,
/// keys in their original order. Numbers keep their source text.
/// </summary>
internal static class PythonJson
{
    /// <summary>Re-serializes <paramref name="json"/> text.</summary>
    /// <exception cref="ArgumentException">The text is not valid JSON; the message names <paramref name="what"/>.</exception>
    public static string Format(string json, string what, int? indent = null)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return Format(document.RootElement, indent);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"{what} is not valid JSON: {ex.Message}", nameof(json), ex);
        }
    }

    /// <summary>Serializes <paramref name="element"/>.</summary>
    public static string Format(JsonElement element, int? indent = null)
    {
        var text = new StringBuilder();
        Write(text, element, indent, 0);
        return text.ToString();
    }

    /// <summary>A JSON string literal with Python's escapes (non-ASCII kept).</summary>
    public static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2);
        WriteString(text, value);
        return text.ToString();
    }

    private static void Write(StringBuilder text, JsonElement element, int? indent, int depth)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                WriteContainer(text, '{', '}', element.EnumerateObject().ToList(), indent, depth, (property, d) =>
                {
                    WriteString(text, property.Name);
                    text.Append(": ");
                    Write(text, property.Value, indent, d);
                });
                break;
            case JsonValueKind.Array:
                WriteContainer(text, '[', ']', element.EnumerateArray().ToList(), indent, depth, (item, d) => Write(text, item, indent, d));
                break;
            case JsonValueKind.String:
                WriteString(text, element.GetString()!);
                break;
            default:
                text.Append(element.GetRawText());
                break;
        }
    }

    private static void WriteContainer<T>(StringBuilder text, char open, char close, List<T> items, int? indent, int depth, Action<T, int> writeItem)
    {
        text.Append(open);
        if (items.Count == 0)
        {
            text.Append(close);
            return;
        }

        for (int i = 0; i < items.Count; i++)
        {
            if (indent is { } size)
            {
                text.Append(i == 0 ? "" : ",").Append('\n').Append(' ', size * (depth + 1));
            }
            else if (i > 0)
            {
                text.Append(", ");
            }

            writeItem(items[i], depth + 1);
        }

        if (indent is { } width)
        {
            text.Append('\n').Append(' ', width * depth);
        }

        text.Append(close);
    }

    /// <summary>A JSON string as Python's json.dumps writes it (with <paramref name="ensureAscii"/>, non-ASCII as \uXXXX).</summary>
    internal static void WriteString(StringBuilder text, string value, bool ensureAscii = false)
    {
        text.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7f))
                    {
                        text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        text.Append(c);
                    }

                    break;
            }
        }

        text.Append('"');
    }
}
