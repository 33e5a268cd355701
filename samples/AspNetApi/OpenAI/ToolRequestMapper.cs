using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmKit.Samples.AspNetApi.OpenAI;

/// <summary>
/// Maps OpenAI's <c>tools</c>, <c>tool_choice</c>, <c>parallel_tool_calls</c>, <c>response_format</c>, assistant
/// <c>tool_calls</c> and <c>tool</c> messages onto M.E.AI types. Every refusal is a 400 naming the field.
/// </summary>
public static class ToolRequestMapper
{
    /// <summary>Declarations of the request's functions; null when there are none.</summary>
    /// <exception cref="ApiException">A malformed tool.</exception>
    public static List<AITool>? MapTools(JsonElement tools)
    {
        switch (tools.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return null;
            case JsonValueKind.Array:
                break;
            default:
                throw ApiException.BadRequest("tools", $"tools must be an array of tool definitions; got a {Kind(tools)}.");
        }

        var result = new List<AITool>(tools.GetArrayLength());
        var names = new HashSet<string>(StringComparer.Ordinal);
        int index = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            string param = $"tools[{index++}]";
            if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function")
            {
                throw ApiException.BadRequest($"{param}.type", $"{param} must be {{\"type\": \"function\", \"function\": {{...}}}}: only function tools are supported.");
            }

            if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest($"{param}.function", $"{param}.function is required: an object with name, description and parameters.", "missing_required_parameter");
            }

            string name = function.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && IsValidName(n.GetString()!)
                ? n.GetString()!
                : throw ApiException.BadRequest($"{param}.function.name", $"{param}.function.name must be 1-64 characters of a-z, A-Z, 0-9, '_' or '-'.");
            if (!names.Add(name))
            {
                throw ApiException.BadRequest($"{param}.function.name", $"{param}.function.name '{name}' is used by another tool; names must be unique.");
            }

            string? description = function.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            JsonElement parameters;
            if (!function.TryGetProperty("parameters", out parameters) || parameters.ValueKind == JsonValueKind.Null)
            {
                parameters = JsonDocument.Parse("{\"type\":\"object\",\"properties\":{}}").RootElement;
            }
            else if (parameters.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest($"{param}.function.parameters", $"{param}.function.parameters must be a JSON Schema object.");
            }

            result.Add(AIFunctionFactory.CreateDeclaration(name, description, parameters.Clone()));
        }

        return result.Count == 0 ? null : result;
    }

    /// <summary>The tool mode of <c>tool_choice</c>; null for the default (auto when tools are given).</summary>
    /// <exception cref="ApiException">An unknown choice, or a named function that is not among the tools.</exception>
    public static ChatToolMode? MapToolChoice(JsonElement choice, IReadOnlyList<AITool>? tools)
    {
        switch (choice.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return choice.GetString() switch
                {
                    "none" => ChatToolMode.None,
                    "auto" => ChatToolMode.Auto,
                    "required" => tools is { Count: > 0 } ? ChatToolMode.RequireAny
                        : throw ApiException.BadRequest("tool_choice", "tool_choice 'required' needs at least one tool in tools."),
                    var other => throw ApiException.BadRequest("tool_choice", $"tool_choice must be 'none', 'auto', 'required' or a function; got '{other}'."),
                };
            case JsonValueKind.Object when choice.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
                && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String:
                string required = name.GetString()!;
                if (tools is null || !tools.Any(t => t.Name == required))
                {
                    throw ApiException.BadRequest("tool_choice.function.name", $"tool_choice.function.name '{required}' is not among the tools.");
                }

                return ChatToolMode.RequireSpecific(required);
            default:
                throw ApiException.BadRequest("tool_choice", "tool_choice must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.");
        }
    }

    /// <summary>The response format; null for text.</summary>
    /// <exception cref="ApiException">An unknown type or a malformed schema.</exception>
    public static ChatResponseFormat? MapResponseFormat(JsonElement format)
    {
        if (format.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return null;
        }

        if (format.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.BadRequest("response_format", $"response_format must be an object such as {{\"type\": \"text\"}}; got a {Kind(format)}.");
        }

        if (!format.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            throw ApiException.BadRequest("response_format.type", "response_format.type must be a string: text, json_object or json_schema.");
        }

        switch (type.GetString())
        {
            case "text":
                return null;
            case "json_object":
                return ChatResponseFormat.Json;
            case "json_schema":
                if (!format.TryGetProperty("json_schema", out var spec) || spec.ValueKind != JsonValueKind.Object
                    || !spec.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                {
                    throw ApiException.BadRequest("response_format.json_schema.schema", "response_format.json_schema.schema is required for type json_schema: a JSON Schema object.", "missing_required_parameter");
                }

                string? schemaName = spec.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                string? description = spec.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
                return ChatResponseFormat.ForJsonSchema(schema.Clone(), schemaName, description);
            default:
                throw ApiException.BadRequest("response_format", $"response_format '{type.GetString()}' is not supported: use text, json_object or json_schema.", "unsupported_parameter");
        }
    }

    /// <summary>An assistant message's calls as contents (after its text, when any).</summary>
    /// <exception cref="ApiException">A call without id or name, or arguments that are not a JSON object.</exception>
    public static IEnumerable<AIContent> MapCalls(List<ToolCallDto?> calls, string param)
    {
        for (int i = 0; i < calls.Count; i++)
        {
            string at = $"{param}.tool_calls[{i}]";
            var call = calls[i];
            if (call?.Id is not { Length: > 0 } id || call.Function?.Name is not { Length: > 0 } name)
            {
                throw ApiException.BadRequest(at, $"{at} needs an id and function.name.", "missing_required_parameter");
            }

            Dictionary<string, object?> arguments;
            try
            {
                using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(call.Function.Arguments) ? "{}" : call.Function.Arguments);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new JsonException("not an object");
                }

                arguments = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal);
            }
            catch (JsonException)
            {
                throw ApiException.BadRequest($"{at}.function.arguments", $"{at}.function.arguments must be a JSON object in a string.");
            }

            yield return new FunctionCallContent(id, name, arguments);
        }
    }

    private static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    private static string Kind(JsonElement value) => value.ValueKind.ToString().ToLowerInvariant();
}
