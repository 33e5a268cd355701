using System.Text.Json;
using System.Text.Json.Nodes;
using LlmKit.Generation.Constraints;
using Microsoft.Extensions.AI;

namespace LlmKit.Chat;

/// <summary>Reads SK's <c>response_format</c> execution setting in every form SK's OpenAI connector accepts.</summary>
internal static class ResponseFormatSetting
{
    /// <summary>Schemas built from types the way SK's OpenAI connector builds them (strict structured outputs).</summary>
    private static readonly AIJsonSchemaCreateOptions TypeSchemaOptions = new()
    {
        TransformOptions = new AIJsonSchemaTransformOptions
        {
            DisallowAdditionalProperties = true,
            RequireAllProperties = true,
            MoveDefaultKeywordToDescription = true,
        },
    };

    /// <exception cref="ArgumentException">The value is of an unknown kind or names an unknown format.</exception>
    /// <exception cref="NotSupportedException">The schema uses a keyword outside the supported subset.</exception>
    public static OutputConstraint? ToConstraint(object? value) => value switch
    {
        null => null,
        OutputConstraint constraint => constraint,
        string text => FromText(text),
        JsonElement element => FromElement(element),
        JsonNode node => FromElement(JsonSerializer.SerializeToElement(node)),
        Type type => ResponseFormatConstraints.ForSchema(AIJsonUtilities.CreateJsonSchema(
            Nullable.GetUnderlyingType(type) ?? type, serializerOptions: AIJsonUtilities.DefaultOptions, inferenceOptions: TypeSchemaOptions)),
        ChatResponseFormat format => ResponseFormatConstraints.From(format),
        _ => throw new ArgumentException(
            $"Execution setting 'response_format' of type {value.GetType().Name} is not supported: use \"json_object\", \"text\", a Type, a JSON schema (JsonElement, JsonNode or text), a ChatResponseFormat or an OutputConstraint.", "response_format"),
    };

    private static OutputConstraint? FromText(string text)
    {
        switch (text.Trim())
        {
            case "" or "text":
                return null;
            case "json_object":
                return OutputConstraint.Json();
        }

        if (text.TrimStart().StartsWith('{'))
        {
            using var document = JsonDocument.Parse(text);
            return FromElement(document.RootElement.Clone());
        }

        throw new ArgumentException($"Execution setting 'response_format' = '{text}' is not supported: use \"json_object\", \"text\" or a JSON schema.", "response_format");
    }

    private static OutputConstraint? FromElement(JsonElement element)
    {
        if (element.ValueKind is JsonValueKind.String)
        {
            return FromText(element.GetString() ?? "");
        }

        if (element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"Execution setting 'response_format' must be a string or an object, not {element.ValueKind}.", "response_format");
        }

        // OpenAI's wire shapes: {"type":"text"}, {"type":"json_object"}, {"type":"json_schema","json_schema":{"schema":{...}}}.
        if (element.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String)
        {
            switch (type.GetString())
            {
                case "text":
                    return null;
                case "json_object":
                    return OutputConstraint.Json();
                case "json_schema" when element.TryGetProperty("json_schema", out var wrapper):
                    return wrapper.TryGetProperty("schema", out var schema)
                        ? ResponseFormatConstraints.ForSchema(schema)
                        : throw new ArgumentException("Execution setting 'response_format': 'json_schema' has no 'schema'.", "response_format");
            }
        }

        return ResponseFormatConstraints.ForSchema(element); // a bare schema, as SK's OpenAI connector takes it
    }
}
