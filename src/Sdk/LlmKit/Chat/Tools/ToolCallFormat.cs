using System.Text;
using System.Text.Json;
using LlmKit.Chat.Templates;

namespace LlmKit.Chat.Tools;

/// <summary>
/// How one model family writes function calls in its output: the marker that opens them, the JSON shape of one call
/// (<c>{"name": ..., "&lt;arguments key&gt;": {...}}</c>), how several calls are joined and closed, and a parser that
/// turns output text back into calls. The decoder builds its call constraint from the same pieces, so what is
/// generated under a constraint is exactly what <see cref="Parse"/> reads.
/// </summary>
/// <remarks>
/// The calls section of an output is <see cref="Opening"/> + call + (<see cref="Separator"/> + call)* + <see cref="Closing"/>,
/// each call being <c>{"name": "NAME", "ARGS": {...}}</c> with <see cref="ArgumentsKey"/> as ARGS.
/// <see cref="Marker"/> is a prefix of <see cref="Opening"/> + <c>{"name": "</c>: output that starts with it is a call.
/// Implementations are immutable and thread-safe.
/// </remarks>
public abstract class ToolCallFormat
{
    /// <summary>What every call object starts with, up to the function name.</summary>
    public const string CallHead = "{\"name\": \"";

    /// <summary>A short name of the format (<c>hermes</c>, <c>llama3-json</c>, <c>mistral</c>, <c>phi4</c>, <c>generic</c>).</summary>
    public abstract string Name { get; }

    /// <summary>The text that tells a call from plain text at the start of an answer.</summary>
    public abstract string Marker { get; }

    /// <summary>Text before the first call object (starts with <see cref="Marker"/> unless the marker reaches into the call).</summary>
    public abstract string Opening { get; }

    /// <summary>Text between two call objects.</summary>
    public abstract string Separator { get; }

    /// <summary>Text after the last call object.</summary>
    public abstract string Closing { get; }

    /// <summary>The key of the arguments object in a call (<c>arguments</c>, or <c>parameters</c> for Llama 3.1).</summary>
    public virtual string ArgumentsKey => "arguments";

    /// <summary>Whether the family's template and training allow several calls in one answer.</summary>
    public abstract bool AllowsParallelCalls { get; }

    /// <summary>Writes <paramref name="calls"/> as the model writes them (used to render earlier assistant calls).</summary>
    /// <param name="calls">At least one call; arguments are JSON object text.</param>
    /// <exception cref="ArgumentException">No calls, or arguments that are not JSON.</exception>
    public virtual string FormatCalls(IReadOnlyList<ChatTemplateToolCall> calls)
    {
        ArgumentNullException.ThrowIfNull(calls);
        if (calls.Count == 0)
        {
            throw new ArgumentException("At least one tool call is needed.", nameof(calls));
        }

        var text = new StringBuilder(Opening);
        for (int i = 0; i < calls.Count; i++)
        {
            text.Append(i == 0 ? "" : Separator).Append(FormatCall(calls[i]));
        }

        return text.Append(Closing).ToString();
    }

    /// <summary>One call object: <c>{"name": "NAME", "ARGS": {...}}</c> with Python-style JSON separators.</summary>
    public virtual string FormatCall(ChatTemplateToolCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return "{\"name\": " + PythonJson.Quote(call.Name) + ", " + PythonJson.Quote(ArgumentsKey) + ": "
            + PythonJson.Format(call.ArgumentsJson, $"The arguments of the call to '{call.Name}'") + "}";
    }

    /// <summary>
    /// Splits model output into text and calls. Output whose calls section does not parse as the family's JSON is
    /// returned whole as text with no calls (never an exception): a model may write the marker in prose.
    /// </summary>
    /// <param name="output">The generated text (special tokens included as text).</param>
    public ToolCallParseResult Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var result = TryParse(output);
        return result ?? new ToolCallParseResult(output, []);
    }

    /// <summary>A new call id for a parsed call (the model writes none).</summary>
    public virtual string NewCallId() => "call_" + Guid.NewGuid().ToString("N")[..24];

    /// <summary>The family-specific parse; null when <paramref name="output"/> holds no well-formed calls.</summary>
    protected abstract ToolCallParseResult? TryParse(string output);

    /// <summary>Reads a call object (<c>name</c> and <see cref="ArgumentsKey"/>, or <c>arguments</c>/<c>parameters</c>); null when it is not one.</summary>
    protected ChatTemplateToolCall? ReadCall(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
            || string.IsNullOrEmpty(name.GetString()))
        {
            return null;
        }

        JsonElement arguments = default;
        bool found = element.TryGetProperty(ArgumentsKey, out arguments)
            || element.TryGetProperty("arguments", out arguments)
            || element.TryGetProperty("parameters", out arguments);
        string argumentsJson;
        if (!found || arguments.ValueKind == JsonValueKind.Null)
        {
            argumentsJson = "{}";
        }
        else if (arguments.ValueKind == JsonValueKind.Object)
        {
            argumentsJson = arguments.GetRawText();
        }
        else if (arguments.ValueKind == JsonValueKind.String && JsonText.TryReadObject(arguments.GetString()!, out string? inner))
        {
            // Some models (and OpenAI's wire format) write the arguments object as a JSON string.
            argumentsJson = inner;
        }
        else
        {
            return null;
        }

        string id = element.TryGetProperty("id", out var idValue) && idValue.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(idValue.GetString())
            ? idValue.GetString()!
            : NewCallId();
        return new ChatTemplateToolCall(id, name.GetString()!, argumentsJson);
    }

    /// <summary>A complete call object seen while streaming (see <see cref="ReadCall"/>).</summary>
    internal ChatTemplateToolCall? ReadCallObject(JsonElement element) => ReadCall(element);

    /// <summary>Reads a JSON array of call objects, or a single call object; null when any element is not a call.</summary>
    protected List<ChatTemplateToolCall>? ReadCalls(JsonElement element)
    {
        var calls = new List<ChatTemplateToolCall>();
        if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                if (ReadCall(item) is not { } call)
                {
                    return null;
                }

                calls.Add(call);
            }

            return calls.Count > 0 ? calls : null;
        }

        return ReadCall(element) is { } single ? [single] : null;
    }
}

/// <summary>Model output split into its text and its function calls.</summary>
/// <param name="Text">The text outside the calls (trimmed of the whitespace that joined it to them); the whole output when there are no calls.</param>
/// <param name="Calls">The calls in order, with ids (generated where the family writes none).</param>
public sealed record ToolCallParseResult(string Text, IReadOnlyList<ChatTemplateToolCall> Calls);

/// <summary>Reads one JSON value at a position of a string.</summary>
internal static class JsonText
{
    /// <summary>Parses the JSON value starting at <paramref name="start"/> (after whitespace); returns it and the index just past it.</summary>
    public static bool TryReadValue(string text, int start, out JsonElement value, out int end)
    {
        value = default;
        end = start;
        while (start < text.Length && char.IsWhiteSpace(text[start]))
        {
            start++;
        }

        if (start >= text.Length)
        {
            return false;
        }

        byte[] bytes = Encoding.UTF8.GetBytes(text, start, text.Length - start);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            using var document = JsonDocument.ParseValue(ref reader);
            value = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return false;
        }

        end = start + Encoding.UTF8.GetCharCount(bytes, 0, (int)reader.BytesConsumed);
        return true;
    }

    /// <summary>Whether <paramref name="text"/> is exactly one JSON object (surrounding whitespace allowed); returns its raw text.</summary>
    public static bool TryReadObject(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? json)
    {
        json = null;
        if (!TryReadValue(text, 0, out var value, out int end) || value.ValueKind != JsonValueKind.Object || !string.IsNullOrWhiteSpace(text[end..]))
        {
            return false;
        }

        json = value.GetRawText();
        return true;
    }
}
