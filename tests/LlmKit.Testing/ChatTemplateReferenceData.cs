using System.Text.Json;
using System.Text.Json.Nodes;
using LlmKit.Chat.Templates;

namespace LlmKit.Testing;

/// <summary>
/// The chat template reference data in tests/LlmKit.Tests/Data/ChatTemplates (templates, conversations and the
/// renderings of @huggingface/transformers; see the README there), read into LlmKit's and Hugging Face's shapes.
/// </summary>
public static class ChatTemplateReferenceData
{
    /// <summary>The data folder.</summary>
    public static string Folder { get; } = Path.Combine(SharedFixtures.RepositoryRoot, "tests", "LlmKit.Tests", "Data", "ChatTemplates");

    /// <summary>The template entries of manifest.json.</summary>
    public static IReadOnlyList<JsonElement> Templates() => [.. Read("manifest.json").RootElement.GetProperty("templates").EnumerateArray()];

    /// <summary>One template entry by name.</summary>
    public static JsonElement Template(string name) => Templates().Single(t => t.GetProperty("name").GetString() == name);

    /// <summary>The renderings recorded for a template: case name → {output} or {error}.</summary>
    public static JsonElement Renderings(string templateName) =>
        Read(Path.Combine("expected", templateName + ".json")).RootElement.GetProperty("renderings");

    /// <summary>A conversation case of conversations.json.</summary>
    public static JsonElement Case(string caseName) =>
        Read("conversations.json").RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == caseName);

    /// <summary>A template file's text.</summary>
    public static string TemplateText(string relativePath) => File.ReadAllText(Path.Combine(Folder, relativePath));

    /// <summary>The entry as LlmKit's folder template: a single file, or the list form (named_files: default and tool_use).</summary>
    /// <param name="entry">A manifest entry.</param>
    /// <param name="conversation">The case, whose <c>variables</c> (extra template variables) the template gets; null for none.</param>
    public static JinjaChatTemplate CreateTemplate(JsonElement entry, JsonElement? conversation = null)
    {
        bool listForm = entry.TryGetProperty("named_files", out var named);
        return new JinjaChatTemplate(
            TemplateText((listForm ? named.GetProperty("default") : entry.GetProperty("file")).GetString()!),
            new JinjaChatTemplateOptions
            {
                SpecialTokens = entry.GetProperty("special_tokens").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
                ToolUseTemplate = listForm ? TemplateText(named.GetProperty("tool_use").GetString()!) : null,
                Variables = conversation is { } c && c.TryGetProperty("variables", out var variables)
                    ? variables.EnumerateObject().ToDictionary(p => p.Name, p => Scalar(p.Value))
                    : null,
            });
    }

    private static object? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => value.TryGetInt64(out long l) ? (object)l : value.GetDouble(),
        JsonValueKind.Null => null,
        _ => throw new InvalidDataException($"Template variable values are scalars; found {value.ValueKind}."),
    };

    /// <summary>The case's messages as LlmKit messages.</summary>
    public static List<ChatTemplateMessage> Messages(JsonElement conversation) =>
        [.. conversation.GetProperty("messages").EnumerateArray().Select(ToMessage)];

    /// <summary>The case's render options (tools and the generation-prompt switch).</summary>
    public static ChatTemplateRenderOptions Options(JsonElement conversation) => new()
    {
        AddGenerationPrompt = conversation.GetProperty("add_generation_prompt").GetBoolean(),
        Tools = conversation.TryGetProperty("tools", out var toolSet)
            ? [.. ToolSet(toolSet.GetString()!).EnumerateArray().Select(t =>
                new ChatTemplateTool(t.GetProperty("name").GetString()!, t.GetProperty("description").GetString(), t.GetProperty("parameters").GetRawText()))]
            : null,
    };

    /// <summary>The case's messages in Hugging Face's shape (tool calls as {id, type, function: {name, arguments}}), as JSON.</summary>
    public static string HuggingFaceMessagesJson(JsonElement conversation)
    {
        var messages = JsonNode.Parse(conversation.GetProperty("messages").GetRawText())!.AsArray();
        foreach (var message in messages)
        {
            if (message!["tool_calls"] is JsonArray calls)
            {
                message["tool_calls"] = new JsonArray([.. calls.Select(call => (JsonNode)new JsonObject
                {
                    ["id"] = call!["id"]!.DeepClone(),
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = call["name"]!.DeepClone(), ["arguments"] = call["arguments"]!.DeepClone() },
                })]);
            }
        }

        return messages.ToJsonString();
    }

    /// <summary>The case's tools in Hugging Face's shape ({type: "function", function: {...}}) as JSON, or null.</summary>
    public static string? HuggingFaceToolsJson(JsonElement conversation) =>
        conversation.TryGetProperty("tools", out var toolSet)
            ? new JsonArray([.. JsonNode.Parse(ToolSet(toolSet.GetString()!).GetRawText())!.AsArray()
                .Select(t => (JsonNode)new JsonObject { ["type"] = "function", ["function"] = t!.DeepClone() })]).ToJsonString()
            : null;

    private static JsonElement ToolSet(string name) => Read("conversations.json").RootElement.GetProperty("tools").GetProperty(name);

    private static ChatTemplateMessage ToMessage(JsonElement m)
    {
        var role = m.GetProperty("role").GetString() switch
        {
            "system" => ChatTemplateRole.System,
            "user" => ChatTemplateRole.User,
            "assistant" => ChatTemplateRole.Assistant,
            "tool" => ChatTemplateRole.Tool,
            var other => throw new InvalidDataException($"Unknown role '{other}' in conversations.json."),
        };
        return new ChatTemplateMessage(role, m.GetProperty("content").GetString()!)
        {
            ToolCalls = m.TryGetProperty("tool_calls", out var calls)
                ? [.. calls.EnumerateArray().Select(c => new ChatTemplateToolCall(c.GetProperty("id").GetString()!, c.GetProperty("name").GetString()!, c.GetProperty("arguments").GetRawText()))]
                : null,
            ToolCallId = m.TryGetProperty("tool_call_id", out var id) ? id.GetString() : null,
            ToolName = m.TryGetProperty("name", out var name) ? name.GetString() : null,
        };
    }

    private static JsonDocument Read(string relativePath)
    {
        string path = Path.Combine(Folder, relativePath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Chat template reference data '{relativePath}' is missing from {Folder}; see its README.md.", path);
        }

        return JsonDocument.Parse(File.ReadAllText(path));
    }
}
