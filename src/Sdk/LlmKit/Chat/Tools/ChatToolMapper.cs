using System.Text.Json;
using LlmKit.Chat.Templates;
using Microsoft.Extensions.AI;

namespace LlmKit.Chat.Tools;

/// <summary>Maps M.E.AI tools, tool modes, function calls and function results onto the template contract and back.</summary>
internal static class ChatToolMapper
{
    /// <summary>M.E.AI's defaults (its reflection-free type info) without indentation: results and arguments go into prompts.</summary>
    private static readonly JsonSerializerOptions Compact = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    /// <summary>
    /// The tool request of <paramref name="options"/>, or null when no tools are offered (none given, or
    /// <see cref="ChatToolMode.None"/>: the tools are then not shown to the model at all).
    /// </summary>
    /// <exception cref="NotSupportedException">Tools are offered and the template has no call format, or a tool is not a function.</exception>
    /// <exception cref="ArgumentException">Duplicate names, or RequireSpecific names a function that is not offered.</exception>
    public static ToolRequest? ToToolRequest(ChatOptions? options, ToolCallFormat? format, ChatTemplateKind templateKind)
    {
        if (options?.Tools is not { Count: > 0 } tools || options.ToolMode is NoneChatToolMode)
        {
            return null;
        }

        if (format is null)
        {
            throw new NotSupportedException(
                $"ChatOptions.Tools: the {templateKind} chat template has no tool-call format; set OnnxChatClientOptions.ToolCallFormat (see docs/chat.md) or remove the tools.");
        }

        var declarations = new List<ChatTemplateTool>(tools.Count);
        foreach (var tool in tools)
        {
            if (tool is not AIFunctionDeclaration function)
            {
                throw new NotSupportedException($"ChatOptions.Tools: tool '{tool?.Name}' of type {tool?.GetType().Name} is not a function; OnnxChatClient calls AIFunctionDeclaration tools only.");
            }

            declarations.Add(new ChatTemplateTool(function.Name, string.IsNullOrEmpty(function.Description) ? null : function.Description, function.JsonSchema.GetRawText()));
        }

        var (choice, name) = options.ToolMode switch
        {
            RequiredChatToolMode { RequiredFunctionName: { } required } => (ToolChoice.Specific, required),
            RequiredChatToolMode => (ToolChoice.Required, (string?)null),
            _ => (ToolChoice.Auto, (string?)null),
        };
        bool parallel = format.AllowsParallelCalls && options.AllowMultipleToolCalls != false;
        return new ToolRequest(format, declarations, choice, name, parallel).Validate("ChatOptions.ToolMode");
    }

    /// <summary>JSON text of a dictionary of argument values, compact.</summary>
    public static string SerializeCompact(Dictionary<string, object?> values) => JsonSerializer.Serialize(values, Compact.GetTypeInfo(typeof(Dictionary<string, object?>)));

    /// <summary>An assistant message's calls as template calls; null when it has none.</summary>
    public static List<ChatTemplateToolCall>? ToTemplateCalls(ChatMessage message)
    {
        List<ChatTemplateToolCall>? calls = null;
        foreach (var content in message.Contents)
        {
            if (content is FunctionCallContent call)
            {
                string arguments = call.Arguments is null ? "{}" : JsonSerializer.Serialize(call.Arguments, Compact.GetTypeInfo(typeof(IDictionary<string, object?>)));
                (calls ??= []).Add(new ChatTemplateToolCall(call.CallId, call.Name, arguments));
            }
        }

        return calls;
    }

    /// <summary>The results in a tool message, one template message each; <paramref name="callNames"/> maps call ids to function names seen earlier.</summary>
    public static IEnumerable<ChatTemplateMessage> ToToolMessages(ChatMessage message, IReadOnlyDictionary<string, string> callNames)
    {
        foreach (var content in message.Contents)
        {
            if (content is FunctionResultContent result)
            {
                yield return new ChatTemplateMessage(ChatTemplateRole.Tool, ResultText(result.Result))
                {
                    ToolCallId = result.CallId,
                    ToolName = callNames.TryGetValue(result.CallId, out string? name) ? name : null,
                };
            }
            else if (content is TextContent text && text.Text.Length > 0)
            {
                yield return new ChatTemplateMessage(ChatTemplateRole.Tool, text.Text);
            }
        }
    }

    /// <summary>A function result as the text the model reads: strings as they are, anything else as JSON.</summary>
    public static string ResultText(object? result) => result switch
    {
        null => "",
        string text => text,
        JsonElement { ValueKind: JsonValueKind.String } json => json.GetString()!,
        JsonElement json => json.GetRawText(),
        _ => JsonSerializer.Serialize(result, Compact.GetTypeInfo(result.GetType())),
    };

    /// <summary>M.E.AI contents of a parsed answer: its text (when any), then one <see cref="FunctionCallContent"/> per call.</summary>
    public static List<AIContent> ToContents(ToolCallParseResult parsed)
    {
        var contents = new List<AIContent>(parsed.Calls.Count + 1);
        if (parsed.Text.Length > 0)
        {
            contents.Add(new TextContent(parsed.Text));
        }

        foreach (var call in parsed.Calls)
        {
            contents.Add(ToFunctionCall(call));
        }

        return contents;
    }

    /// <summary>A parsed call as M.E.AI content; argument values are <see cref="JsonElement"/>s.</summary>
    public static FunctionCallContent ToFunctionCall(ChatTemplateToolCall call)
    {
        using var document = JsonDocument.Parse(call.ArgumentsJson);
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            arguments[property.Name] = property.Value.Clone();
        }

        return new FunctionCallContent(call.Id, call.Name, arguments);
    }
}
