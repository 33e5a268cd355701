using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmKit.Samples.AspNetApi.OpenAI;

/// <summary>
/// The body of <c>POST /v1/chat/completions</c> as OpenAI defines it. Fields whose JSON shape varies
/// (<c>stop</c>, message <c>content</c>) are kept as <see cref="JsonElement"/> and checked by
/// <see cref="ChatRequestMapper"/>. Unknown fields are ignored, as OpenAI-compatible servers do.
/// </summary>
public sealed class ChatCompletionRequest
{
    /// <summary>The model id; must be the served model's id (see <c>GET /v1/models</c>) when given.</summary>
    [JsonPropertyName("model")]
    public string? Model { get; set; }

    /// <summary>The conversation, oldest first.</summary>
    [JsonPropertyName("messages")]
    public List<ChatMessageDto?>? Messages { get; set; }

    /// <summary>Sampling temperature in [0, 2]; 0 is greedy.</summary>
    [JsonPropertyName("temperature")]
    public float? Temperature { get; set; }

    /// <summary>Nucleus sampling mass in (0, 1].</summary>
    [JsonPropertyName("top_p")]
    public float? TopP { get; set; }

    /// <summary>LlmKit extension: keep only the k most likely tokens, &gt;= 0.</summary>
    [JsonPropertyName("top_k")]
    public int? TopK { get; set; }

    /// <summary>Most new tokens (legacy name).</summary>
    [JsonPropertyName("max_tokens")]
    public int? MaxTokens { get; set; }

    /// <summary>Most new tokens (current name; wins over <see cref="MaxTokens"/>).</summary>
    [JsonPropertyName("max_completion_tokens")]
    public int? MaxCompletionTokens { get; set; }

    /// <summary>A stop string or up to four of them.</summary>
    [JsonPropertyName("stop")]
    public JsonElement Stop { get; set; }

    /// <summary>Sampler seed.</summary>
    [JsonPropertyName("seed")]
    public long? Seed { get; set; }

    /// <summary>Stream server-sent events.</summary>
    [JsonPropertyName("stream")]
    public bool? Stream { get; set; }

    /// <summary>Streaming options (<c>include_usage</c>).</summary>
    [JsonPropertyName("stream_options")]
    public StreamOptionsDto? StreamOptions { get; set; }

    /// <summary>Choices to generate; only 1 is supported.</summary>
    [JsonPropertyName("n")]
    public int? N { get; set; }

    /// <summary>Frequency penalty in [-2, 2].</summary>
    [JsonPropertyName("frequency_penalty")]
    public float? FrequencyPenalty { get; set; }

    /// <summary>Presence penalty in [-2, 2].</summary>
    [JsonPropertyName("presence_penalty")]
    public float? PresencePenalty { get; set; }

    /// <summary>Functions the model may call: <c>[{"type": "function", "function": {"name", "description", "parameters"}}]</c>.</summary>
    [JsonPropertyName("tools")]
    public JsonElement Tools { get; set; }

    /// <summary><c>none</c>, <c>auto</c>, <c>required</c> or <c>{"type": "function", "function": {"name": ...}}</c>.</summary>
    [JsonPropertyName("tool_choice")]
    public JsonElement ToolChoice { get; set; }

    /// <summary>Whether one answer may hold several calls (default: as the model family allows).</summary>
    [JsonPropertyName("parallel_tool_calls")]
    public bool? ParallelToolCalls { get; set; }

    /// <summary><c>text</c>, <c>json_object</c> or <c>json_schema</c> (<c>{"json_schema": {"name", "schema", "strict"}}</c>).</summary>
    [JsonPropertyName("response_format")]
    public JsonElement ResponseFormat { get; set; }
}

/// <summary>One message of a chat completion request.</summary>
public sealed class ChatMessageDto
{
    /// <summary><c>system</c>, <c>developer</c>, <c>user</c> or <c>assistant</c>.</summary>
    [JsonPropertyName("role")]
    public string? Role { get; set; }

    /// <summary>A string, or an array of <c>{"type":"text","text":...}</c> parts; may be null on an assistant message with tool calls.</summary>
    [JsonPropertyName("content")]
    public JsonElement Content { get; set; }

    /// <summary>On an assistant message: the calls it made.</summary>
    [JsonPropertyName("tool_calls")]
    public List<ToolCallDto?>? ToolCalls { get; set; }

    /// <summary>On a tool message: the id of the call it answers.</summary>
    [JsonPropertyName("tool_call_id")]
    public string? ToolCallId { get; set; }
}

/// <summary>One call of an assistant message, in a request or a response.</summary>
public sealed class ToolCallDto
{
    /// <summary>The call id.</summary>
    [JsonPropertyName("id")]
    public string? Id { get; set; }

    /// <summary>Always <c>function</c>.</summary>
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    /// <summary>The function and its arguments.</summary>
    [JsonPropertyName("function")]
    public FunctionCallDto? Function { get; set; }
}

/// <summary>A function call: its name and its arguments as a JSON object in a string, as OpenAI sends them.</summary>
public sealed class FunctionCallDto
{
    /// <summary>The function name.</summary>
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    /// <summary>The arguments object as JSON text.</summary>
    [JsonPropertyName("arguments")]
    public string? Arguments { get; set; }
}

/// <summary>Streaming options.</summary>
public sealed class StreamOptionsDto
{
    /// <summary>Send a last chunk with the token usage and no choices.</summary>
    [JsonPropertyName("include_usage")]
    public bool? IncludeUsage { get; set; }
}
