using System.Text.Json.Serialization;

namespace LlmKit.Samples.AspNetApi.OpenAI;

/// <summary>A non-streamed chat completion (<c>"object": "chat.completion"</c>).</summary>
public sealed record ChatCompletionResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChatChoice> Choices,
    [property: JsonPropertyName("usage")] UsageDto Usage)
{
    /// <summary>Always <c>chat.completion</c>.</summary>
    [JsonPropertyName("object")]
    public string Object => "chat.completion";

    /// <summary>Identifies the serving build, as OpenAI's field does.</summary>
    [JsonPropertyName("system_fingerprint")]
    public string SystemFingerprint => "llmkit";
}

/// <summary>One choice of a completion.</summary>
public sealed record ChatChoice(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("message")] AssistantMessage Message,
    [property: JsonPropertyName("finish_reason")] string FinishReason);

/// <summary>The assistant's message: its text (null when it only calls tools) and its tool calls.</summary>
public sealed record AssistantMessage(
    [property: JsonPropertyName("content"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Content,
    [property: JsonPropertyName("tool_calls")] IReadOnlyList<ToolCallDto>? ToolCalls = null)
{
    /// <summary>Always <c>assistant</c>.</summary>
    [JsonPropertyName("role")]
    public string Role => "assistant";
}

/// <summary>Token usage.</summary>
public sealed record UsageDto(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

/// <summary>One server-sent event of a streamed completion (<c>"object": "chat.completion.chunk"</c>).</summary>
public sealed record ChatCompletionChunk(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChunkChoice> Choices,
    [property: JsonPropertyName("usage")] UsageDto? Usage)
{
    /// <summary>Always <c>chat.completion.chunk</c>.</summary>
    [JsonPropertyName("object")]
    public string Object => "chat.completion.chunk";
}

/// <summary>The delta of one streamed choice; <see cref="FinishReason"/> is null until the last content chunk.</summary>
public sealed record ChunkChoice(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("delta")] ChunkDelta Delta,
    [property: JsonPropertyName("finish_reason"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

/// <summary>New text (and, in the first chunk, the role), or a piece of a tool call.</summary>
public sealed record ChunkDelta(
    [property: JsonPropertyName("role")] string? Role,
    [property: JsonPropertyName("content")] string? Content,
    [property: JsonPropertyName("tool_calls")] IReadOnlyList<ToolCallDelta>? ToolCalls = null);

/// <summary>
/// A streamed piece of a tool call, in OpenAI's shape: the first piece of call <see cref="Index"/> carries its id, type and
/// function name, later pieces carry chunks of the arguments text.
/// </summary>
public sealed record ToolCallDelta(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("function")] FunctionCallDto Function);

/// <summary><c>GET /v1/models</c>.</summary>
public sealed record ModelList([property: JsonPropertyName("data")] IReadOnlyList<ModelCard> Data)
{
    /// <summary>Always <c>list</c>.</summary>
    [JsonPropertyName("object")]
    public string Object => "list";
}

/// <summary>One served model.</summary>
public sealed record ModelCard(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy,
    [property: JsonPropertyName("max_model_len")] int MaxModelLength)
{
    /// <summary>Always <c>model</c>.</summary>
    [JsonPropertyName("object")]
    public string Object => "model";
}
