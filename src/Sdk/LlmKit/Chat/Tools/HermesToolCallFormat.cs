using LlmKit.Chat.Templates;

namespace LlmKit.Chat.Tools;

/// <summary>
/// The Hermes 2 Pro / Qwen 2.5 form: each call is <c>&lt;tool_call&gt;\n{"name": ..., "arguments": {...}}\n&lt;/tool_call&gt;</c>,
/// several calls follow one another on new lines. Also LlmKit's generic form for base models without a template.
/// </summary>
public sealed class HermesToolCallFormat : ToolCallFormat
{
    private const string Open = "<tool_call>";
    private const string Close = "</tool_call>";

    internal HermesToolCallFormat(string name) => Name = name;

    /// <inheritdoc />
    public override string Name { get; }

    /// <inheritdoc />
    public override string Marker => Open;

    /// <inheritdoc />
    public override string Opening => Open + "\n";

    /// <inheritdoc />
    public override string Separator => "\n" + Close + "\n" + Open + "\n";

    /// <inheritdoc />
    public override string Closing => "\n" + Close;

    /// <inheritdoc />
    public override bool AllowsParallelCalls => true;

    /// <inheritdoc />
    protected override ToolCallParseResult? TryParse(string output)
    {
        int first = output.IndexOf(Open, StringComparison.Ordinal);
        if (first < 0)
        {
            return null;
        }

        var calls = new List<ChatTemplateToolCall>();
        int position = first;
        while (position < output.Length && output.AsSpan(position).StartsWith(Open, StringComparison.Ordinal))
        {
            if (!JsonText.TryReadValue(output, position + Open.Length, out var value, out int end) || ReadCall(value) is not { } call)
            {
                return null;
            }

            calls.Add(call);
            position = SkipWhitespace(output, end);
            if (output.AsSpan(position).StartsWith(Close, StringComparison.Ordinal))
            {
                position = SkipWhitespace(output, position + Close.Length);
            }
            else if (position < output.Length)
            {
                return null; // something other than the closing tag after the JSON: not a call
            }
        }

        string before = output[..first].TrimEnd();
        string after = output[position..].Trim();
        string text = after.Length == 0 ? before : before.Length == 0 ? after : before + "\n" + after;
        return new ToolCallParseResult(text, calls);
    }

    private static int SkipWhitespace(string text, int index)
    {
        while (index < text.Length && char.IsWhiteSpace(text[index]))
        {
            index++;
        }

        return index;
    }
}

/// <summary>
/// Llama 3.1 / 3.2 JSON tool calling: the whole answer is one <c>{"name": ..., "parameters": {...}}</c> object
/// (optionally after <c>&lt;|python_tag|&gt;</c>). Meta's template allows a single call per turn.
/// </summary>
public sealed class Llama3JsonToolCallFormat : ToolCallFormat
{
    private const string PythonTag = "<|python_tag|>";

    internal Llama3JsonToolCallFormat()
    {
    }

    /// <inheritdoc />
    public override string Name => "llama3-json";

    /// <inheritdoc />
    /// <remarks>The marker reaches into the call object: an answer starting with <c>{"name": "</c> is a call.</remarks>
    public override string Marker => CallHead;

    /// <inheritdoc />
    public override string Opening => "";

    /// <inheritdoc />
    public override string Separator => "";

    /// <inheritdoc />
    public override string Closing => "";

    /// <inheritdoc />
    public override string ArgumentsKey => "parameters";

    /// <inheritdoc />
    public override bool AllowsParallelCalls => false;

    /// <inheritdoc />
    protected override ToolCallParseResult? TryParse(string output)
    {
        string body = output.TrimStart();
        if (body.StartsWith(PythonTag, StringComparison.Ordinal))
        {
            body = body[PythonTag.Length..];
        }

        if (!body.TrimStart().StartsWith('{') || !JsonText.TryReadValue(body, 0, out var value, out int end) || ReadCall(value) is not { } call)
        {
            return null;
        }

        string rest = body[end..].Replace("<|eom_id|>", "", StringComparison.Ordinal).Replace("<|eot_id|>", "", StringComparison.Ordinal);
        return string.IsNullOrWhiteSpace(rest) ? new ToolCallParseResult("", [call]) : null;
    }
}

/// <summary>
/// Mistral v0.3 (Mistral-7B-Instruct-v0.3, Mistral Nemo): <c>[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]</c>.
/// Parallel calls are one JSON list. Call ids are 9 alphanumeric characters, as Mistral's template requires.
/// </summary>
public sealed class MistralToolCallFormat : ToolCallFormat
{
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    internal MistralToolCallFormat()
    {
    }

    /// <inheritdoc />
    public override string Name => "mistral";

    /// <inheritdoc />
    public override string Marker => "[TOOL_CALLS]";

    /// <inheritdoc />
    public override string Opening => "[TOOL_CALLS] [";

    /// <inheritdoc />
    public override string Separator => ", ";

    /// <inheritdoc />
    public override string Closing => "]";

    /// <inheritdoc />
    public override bool AllowsParallelCalls => true;

    /// <inheritdoc />
    public override string NewCallId() => string.Create(9, 0, static (span, _) =>
    {
        for (int i = 0; i < span.Length; i++)
        {
            span[i] = IdAlphabet[Random.Shared.Next(IdAlphabet.Length)];
        }
    });

    /// <summary>
    /// An id Mistral's template accepts: <paramref name="id"/> itself when it is 9 alphanumeric characters, else 9
    /// characters derived from it deterministically (so a call and its result keep matching ids).
    /// </summary>
    public static string NormalizeId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length == 9 && id.All(char.IsAsciiLetterOrDigit))
        {
            return id;
        }

        byte[] hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id));
        return string.Create(9, hash, static (span, bytes) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = IdAlphabet[bytes[i] % IdAlphabet.Length];
            }
        });
    }

    /// <inheritdoc />
    protected override ToolCallParseResult? TryParse(string output)
    {
        int marker = output.IndexOf(Marker, StringComparison.Ordinal);
        if (marker < 0 || !JsonText.TryReadValue(output, marker + Marker.Length, out var value, out int end)
            || ReadCalls(value) is not { } calls || !string.IsNullOrWhiteSpace(output[end..].Replace("</s>", "", StringComparison.Ordinal)))
        {
            return null;
        }

        return new ToolCallParseResult(output[..marker].Trim(), calls);
    }
}

/// <summary>
/// Phi-4-mini: <c>&lt;|tool_call|&gt;[{"name": ..., "arguments": {...}}, ...]&lt;|/tool_call|&gt;</c>, the tools listed in the
/// system message between <c>&lt;|tool|&gt;</c> and <c>&lt;|/tool|&gt;</c>. The parser also reads vLLM's
/// <c>functools[...]</c> variant of the same list.
/// </summary>
public sealed class Phi4ToolCallFormat : ToolCallFormat
{
    private const string Open = "<|tool_call|>";
    private const string Close = "<|/tool_call|>";
    private const string FunctoolsMarker = "functools";

    internal Phi4ToolCallFormat()
    {
    }

    /// <inheritdoc />
    public override string Name => "phi4";

    /// <inheritdoc />
    public override string Marker => Open;

    /// <inheritdoc />
    public override string Opening => Open + "[";

    /// <inheritdoc />
    public override string Separator => ", ";

    /// <inheritdoc />
    public override string Closing => "]" + Close;

    /// <inheritdoc />
    public override bool AllowsParallelCalls => true;

    /// <inheritdoc />
    protected override ToolCallParseResult? TryParse(string output)
    {
        int marker = output.IndexOf(Open, StringComparison.Ordinal);
        int start = marker + Open.Length;
        if (marker < 0)
        {
            marker = output.IndexOf(FunctoolsMarker + "[", StringComparison.Ordinal);
            start = marker + FunctoolsMarker.Length;
        }

        if (marker < 0 || !JsonText.TryReadValue(output, start, out var value, out int end) || ReadCalls(value) is not { } calls)
        {
            return null;
        }

        string rest = output[end..].TrimStart();
        if (rest.StartsWith(Close, StringComparison.Ordinal))
        {
            rest = rest[Close.Length..];
        }

        string before = output[..marker].Trim();
        string after = rest.Trim();
        return new ToolCallParseResult(after.Length == 0 ? before : before.Length == 0 ? after : before + "\n" + after, calls);
    }
}
