using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmKit.Samples.AspNetApi.OpenAI;

/// <summary>A checked chat completion request, ready for an <see cref="IChatClient"/>.</summary>
/// <param name="Messages">The conversation.</param>
/// <param name="Options">The generation settings.</param>
/// <param name="Stream">Whether to answer with server-sent events.</param>
/// <param name="IncludeUsage">Whether a streamed answer ends with a usage chunk.</param>
public sealed record MappedChatRequest(IReadOnlyList<ChatMessage> Messages, ChatOptions Options, bool Stream, bool IncludeUsage);

/// <summary>
/// Checks an OpenAI chat completion request field by field and maps it onto M.E.AI types. Every refusal is an
/// <see cref="ApiException"/> (400) naming the field and what is allowed, as OpenAI's own errors do.
/// </summary>
public static class ChatRequestMapper
{
    /// <summary>OpenAI's limit on stop sequences.</summary>
    public const int MaxStopSequences = 4;

    /// <summary>Checks and maps <paramref name="request"/>.</summary>
    /// <param name="request">The parsed body (null when the body was JSON <c>null</c>).</param>
    /// <param name="servedModelId">The id of the served model; a different <c>model</c> gets 404.</param>
    /// <param name="maxCompletionTokens">The server's cap on <c>max_tokens</c>, also the value used when none is asked for.</param>
    /// <param name="adapters">Loaded LoRA adapters; <c>model</c> = "{servedModelId}+{name}" selects one (an OpenAI-style alias).</param>
    /// <exception cref="ApiException">The request is invalid.</exception>
    public static MappedChatRequest Map(ChatCompletionRequest? request, string servedModelId, int maxCompletionTokens, IReadOnlyCollection<string>? adapters = null)
    {
        if (request is null)
        {
            throw ApiException.BadRequest(null, "The request body must be a JSON object.", "invalid_json");
        }

        string? adapter = null;
        if (!string.IsNullOrEmpty(request.Model) && !string.Equals(request.Model, servedModelId, StringComparison.Ordinal))
        {
            adapter = AdapterAlias(request.Model, servedModelId, adapters)
                ?? throw new ApiException(StatusCodes.Status404NotFound,
                    $"The model '{request.Model}' does not exist: this server serves '{servedModelId}'{(adapters is { Count: > 0 } ? $" and its adapters as '{servedModelId}+NAME'" : "")} (see GET /v1/models).",
                    "model", "model_not_found");
        }

        var messages = MapMessages(request.Messages);
        Range(request.Temperature, 0, 2, "temperature", "a number between 0 and 2 (0 decodes greedily)");
        if (request.TopP is { } topP && !(topP > 0 && topP <= 1))
        {
            throw ApiException.BadRequest("top_p", $"top_p must be greater than 0 and at most 1; got {topP}.");
        }

        if (request.TopK is < 0)
        {
            throw ApiException.BadRequest("top_k", $"top_k must be >= 0 (0 turns it off); got {request.TopK}.");
        }

        Range(request.FrequencyPenalty, -2, 2, "frequency_penalty", "a number between -2 and 2");
        Range(request.PresencePenalty, -2, 2, "presence_penalty", "a number between -2 and 2");
        if (request.N is { } n && n != 1)
        {
            throw ApiException.BadRequest("n", $"n must be 1: this server generates one choice per request; got {n}.");
        }

        string maxParam = request.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens";
        int? maxTokens = request.MaxCompletionTokens ?? request.MaxTokens;
        if (maxTokens is { } max && (max < 1 || max > maxCompletionTokens))
        {
            throw ApiException.BadRequest(maxParam, $"{maxParam} must be between 1 and {maxCompletionTokens} on this server; got {max}.");
        }

        var tools = ToolRequestMapper.MapTools(request.Tools);
        var toolMode = ToolRequestMapper.MapToolChoice(request.ToolChoice, tools);
        var responseFormat = ToolRequestMapper.MapResponseFormat(request.ResponseFormat);

        var options = new ChatOptions
        {
            Tools = tools,
            ToolMode = toolMode,
            AllowMultipleToolCalls = request.ParallelToolCalls,
            ResponseFormat = responseFormat,
            ModelId = servedModelId,
            Temperature = request.Temperature,
            TopP = request.TopP,
            TopK = request.TopK,
            MaxOutputTokens = maxTokens ?? maxCompletionTokens,
            StopSequences = MapStop(request.Stop),
            Seed = request.Seed,
            FrequencyPenalty = request.FrequencyPenalty,
            PresencePenalty = request.PresencePenalty,
        };
        if (adapter is not null)
        {
            options.AdditionalProperties = new AdditionalPropertiesDictionary { ["adapter"] = adapter };
        }

        bool stream = request.Stream == true;
        return new MappedChatRequest(messages, options, stream, stream && request.StreamOptions?.IncludeUsage == true);
    }

    /// <summary>The model ids a server lists: the served model and one "{id}+{adapter}" alias per loaded adapter.</summary>
    public static IEnumerable<string> ModelIds(string servedModelId, IEnumerable<string> adapters) =>
        [servedModelId, .. adapters.Order(StringComparer.Ordinal).Select(a => $"{servedModelId}+{a}")];

    private static string? AdapterAlias(string model, string servedModelId, IReadOnlyCollection<string>? adapters)
    {
        string prefix = servedModelId + "+";
        if (adapters is null || !model.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        string name = model[prefix.Length..];
        return adapters.Contains(name) ? name : null;
    }

    private static List<ChatMessage> MapMessages(List<ChatMessageDto?>? messages)
    {
        if (messages is null || messages.Count == 0)
        {
            throw ApiException.BadRequest("messages", "messages must be a non-empty array of {\"role\", \"content\"} objects.", "missing_required_parameter");
        }

        var result = new List<ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            string param = $"messages[{i}]";
            var message = messages[i] ?? throw ApiException.BadRequest(param, $"{param} must be an object with \"role\" and \"content\".");
            var role = message.Role switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                "tool" => ChatRole.Tool,
                null => throw ApiException.BadRequest($"{param}.role", $"{param}.role is required: one of system, developer, user, assistant, tool.", "missing_required_parameter"),
                _ => throw ApiException.BadRequest($"{param}.role", $"{param}.role '{message.Role}' is not supported: use system, developer, user, assistant or tool."),
            };
            if (role == ChatRole.Tool)
            {
                string callId = message.ToolCallId is { Length: > 0 } id ? id
                    : throw ApiException.BadRequest($"{param}.tool_call_id", $"{param}.tool_call_id is required on a tool message.", "missing_required_parameter");
                result.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(callId, ReadContent(message.Content, $"{param}.content"))]));
            }
            else if (role == ChatRole.Assistant && message.ToolCalls is { Count: > 0 } calls)
            {
                var contents = new List<AIContent>();
                if (message.Content.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null) && ReadContent(message.Content, $"{param}.content") is { Length: > 0 } text)
                {
                    contents.Add(new TextContent(text));
                }

                contents.AddRange(ToolRequestMapper.MapCalls(calls, param));
                result.Add(new ChatMessage(ChatRole.Assistant, contents));
            }
            else
            {
                result.Add(new ChatMessage(role, ReadContent(message.Content, $"{param}.content")));
            }
        }

        return result;
    }

    private static string ReadContent(JsonElement content, string param)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString()!;
            case JsonValueKind.Array:
                var text = new System.Text.StringBuilder();
                int index = 0;
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object
                        || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                        || type.GetString() != "text"
                        || !part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
                    {
                        throw ApiException.BadRequest($"{param}[{index}]", $"{param}[{index}] must be a text part {{\"type\": \"text\", \"text\": \"...\"}}: this server accepts text only.", "unsupported_content");
                    }

                    text.Append(partText.GetString());
                    index++;
                }

                return text.ToString();
            case JsonValueKind.Undefined or JsonValueKind.Null:
                throw ApiException.BadRequest(param, $"{param} is required: a string or an array of text parts.", "missing_required_parameter");
            default:
                throw ApiException.BadRequest(param, $"{param} must be a string or an array of text parts; got a {content.ValueKind.ToString().ToLowerInvariant()}.");
        }
    }

    private static List<string>? MapStop(JsonElement stop)
    {
        switch (stop.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return [RequireStop(stop.GetString(), "stop")];
            case JsonValueKind.Array:
                int count = stop.GetArrayLength();
                if (count > MaxStopSequences)
                {
                    throw ApiException.BadRequest("stop", $"stop may hold at most {MaxStopSequences} sequences; got {count}.");
                }

                var list = new List<string>(count);
                int i = 0;
                foreach (var item in stop.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw ApiException.BadRequest($"stop[{i}]", $"stop[{i}] must be a string.");
                    }

                    list.Add(RequireStop(item.GetString(), $"stop[{i}]"));
                    i++;
                }

                return list.Count == 0 ? null : list;
            default:
                throw ApiException.BadRequest("stop", "stop must be a string or an array of up to 4 strings.");
        }
    }

    private static string RequireStop(string? value, string param) =>
        string.IsNullOrEmpty(value) ? throw ApiException.BadRequest(param, $"{param} must not be empty.") : value;

    private static void Range(float? value, float min, float max, string param, string allowed)
    {
        if (value is { } v && !(v >= min && v <= max))
        {
            throw ApiException.BadRequest(param, $"{param} must be {allowed}; got {v}.");
        }
    }
}
