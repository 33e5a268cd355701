using System.Collections.Concurrent;
using System.Text.Json;
using LlmKit.Generation.Constraints;
using Microsoft.Extensions.AI;

namespace LlmKit.Chat;

/// <summary>
/// Turns response formats (M.E.AI <see cref="ChatResponseFormat"/>, SK <c>response_format</c> values) into
/// <see cref="OutputConstraint"/>s. Constraints are cached by schema text so repeated requests with the same schema
/// reuse one compiled automaton and its masks per model.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal static class ResponseFormatConstraints
{
    private const int MaxCachedSchemas = 256;
    private static readonly ConcurrentDictionary<string, OutputConstraint> Cache = new(StringComparer.Ordinal);

    /// <summary>The constraint for an M.E.AI response format: null for text (or none), any JSON for <see cref="ChatResponseFormat.Json"/>, the schema's documents otherwise.</summary>
    public static OutputConstraint? From(ChatResponseFormat? format) => format switch
    {
        ChatResponseFormatJson { Schema: { } schema } => ForSchema(schema),
        ChatResponseFormatJson => OutputConstraint.Json(),
        _ => null,
    };

    /// <summary>The constraint for a JSON schema (cached by its text).</summary>
    public static OutputConstraint ForSchema(JsonElement schema)
    {
        string key = schema.GetRawText();
        if (Cache.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var constraint = OutputConstraint.JsonSchema(schema);
        if (Cache.Count >= MaxCachedSchemas)
        {
            Cache.Clear(); // many distinct schemas: start over rather than grow without bound
        }

        return Cache.GetOrAdd(key, constraint);
    }
}
