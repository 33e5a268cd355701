using System.Text.Json;
using LlmKit.Generation;
using LlmKit.Hosting;
using LlmKit.Samples.AspNetApi.OpenAI;
using LlmKit.Samples.AspNetApi.Serving;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmKit.Samples.AspNetApi.Endpoints;

/// <summary>
/// <c>POST /v1/chat/completions</c>: checks the request, waits for a generation slot (429 when the queue is full),
/// generates through the registered <see cref="IChatClient"/> and answers in OpenAI's shape, as JSON or as
/// server-sent events ending in <c>data: [DONE]</c>. The client's disconnect (<see cref="HttpContext.RequestAborted"/>)
/// cancels the generation, which the runtime checks before every token.
/// </summary>
/// <remarks>Thread-safe singleton.</remarks>
public sealed partial class ChatCompletionsEndpoint
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    /// <summary>Streamed tool-call arguments come in pieces of this many characters, as OpenAI streams them.</summary>
    private const int ArgumentsChunkChars = 16;

    /// <summary>Arguments are written compactly as the JSON text OpenAI clients parse.</summary>
    private static readonly JsonSerializerOptions ArgumentsJson = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    private readonly IChatClient _chat;
    private readonly GenerationQueue _queue;
    private readonly PromptBudget _budget;
    private readonly ServerOptions _options;
    private readonly ILogger<ChatCompletionsEndpoint> _logger;
    private readonly string _modelId;
    private readonly string[] _adapters;

    /// <summary>Creates the endpoint.</summary>
    public ChatCompletionsEndpoint(IChatClient chat, GenerationQueue queue, PromptBudget budget, IOptions<ServerOptions> options, ILogger<ChatCompletionsEndpoint> logger, IOptions<LlmKitOptions>? llmKit = null)
    {
        _adapters = [.. llmKit?.Value.Adapters.Keys ?? []];
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(options);
        _chat = chat;
        _queue = queue;
        _budget = budget;
        _options = options.Value;
        _logger = logger;
        _modelId = chat.GetService<ChatClientMetadata>()?.DefaultModelId ?? "llmkit";
    }

    /// <summary>Handles one request.</summary>
    /// <param name="http">The request context.</param>
    public async Task HandleAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var cancellationToken = http.RequestAborted;
        MappedChatRequest request;
        try
        {
            var body = await ApiJson.ReadAsync<ChatCompletionRequest>(http, _options.MaxRequestBodyBytes);
            request = ChatRequestMapper.Map(body, _modelId, _options.MaxCompletionTokens, _adapters);
            _budget.Check(request.Messages);
        }
        catch (ApiException ex)
        {
            LogRefused(_logger, ex.StatusCode, ex.Code, ex.Param);
            await ApiJson.WriteErrorAsync(http, ex);
            return;
        }

        IDisposable? slot;
        try
        {
            slot = await _queue.TryEnterAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogDisconnectedBeforeAnswer(_logger);
            return;
        }

        using var held = slot;
        if (slot is null)
        {
            int retryAfter = _queue.RetryAfterSeconds();
            LogQueueFull(_logger, retryAfter);
            await ApiJson.WriteErrorAsync(http, ApiJson.QueueFull(), retryAfter);
            return;
        }

        try
        {
            if (request.Stream)
            {
                await StreamAsync(http, request, cancellationToken);
            }
            else
            {
                await CompleteAsync(http, request, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException && !http.Response.HasStarted)
        {
            // Settings the runtime refuses after merging with the defaults (e.g. a folder default out of range).
            var error = ApiException.BadRequest(null, ex.Message);
            LogRefused(_logger, error.StatusCode, error.Code, error.Param);
            await ApiJson.WriteErrorAsync(http, error);
        }
    }

    private async Task CompleteAsync(HttpContext http, MappedChatRequest request, CancellationToken cancellationToken)
    {
        ChatResponse response;
        try
        {
            response = await _chat.GetResponseAsync(request.Messages, request.Options, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            ApiTelemetry.Disconnects.Add(1, new KeyValuePair<string, object?>("stream", false));
            LogDisconnectedBeforeAnswer(_logger);
            return;
        }

        var usage = ToUsage(response.Usage);
        string finish = ToFinishReason(response.FinishReason);
        LogCompleted(_logger, false, usage.PromptTokens, usage.CompletionTokens, finish);
        var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Select(ToToolCall).ToList();
        var message = calls.Count > 0
            ? new AssistantMessage(response.Text.Length > 0 ? response.Text : null, calls)
            : new AssistantMessage(response.Text);
        var body = new ChatCompletionResponse(
            response.ResponseId ?? NewId(),
            (response.CreatedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds(),
            response.ModelId ?? _modelId,
            [new ChatChoice(0, message, finish)],
            usage);
        await http.Response.WriteAsJsonAsync(body, ApiJson.Options, cancellationToken);
    }

    private async Task StreamAsync(HttpContext http, MappedChatRequest request, CancellationToken cancellationToken)
    {
        // Start the generation before the headers go out, so settings the runtime refuses still get a 400.
        var updates = _chat.GetStreamingResponseAsync(request.Messages, request.Options, cancellationToken);

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        ApiJson.DisableBuffering(http);

        string id = NewId();
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        int generated = 0;
        using var onAbort = cancellationToken.Register(() => LogClientDisconnected(_logger, Volatile.Read(ref generated)));
        try
        {
            await WriteEventAsync(http, new ChatCompletionChunk(id, created, _modelId, [new ChunkChoice(0, new ChunkDelta("assistant", ""), null)], null), cancellationToken);
            UsageDto? usage = null;
            int toolIndex = 0;
            await foreach (var update in updates.WithCancellation(cancellationToken))
            {
                if (update.RawRepresentation is GenerationUpdate raw)
                {
                    Volatile.Write(ref generated, raw.GeneratedTokenCount);
                }

                foreach (var content in update.Contents)
                {
                    if (content is UsageContent u)
                    {
                        usage = ToUsage(u.Details);
                    }
                }

                string? finish = update.FinishReason is { } reason ? ToFinishReason(reason) : null;
                string text = update.Text;
                var calls = update.Contents.OfType<FunctionCallContent>().ToList();
                if (text.Length > 0 || (finish is not null && calls.Count == 0))
                {
                    await WriteEventAsync(http, new ChatCompletionChunk(id, created, _modelId, [new ChunkChoice(0, new ChunkDelta(null, text.Length > 0 ? text : null), calls.Count == 0 ? finish : null)], null), cancellationToken);
                }

                // Each call as OpenAI streams it: id, type and name first, then the arguments text in pieces.
                for (int i = 0; i < calls.Count; i++)
                {
                    var call = ToToolCall(calls[i]);
                    await WriteToolDeltaAsync(http, id, created, new ToolCallDelta(toolIndex, call.Id, "function", new FunctionCallDto { Name = call.Function!.Name, Arguments = "" }), cancellationToken);
                    foreach (string piece in Pieces(call.Function.Arguments!, ArgumentsChunkChars))
                    {
                        await WriteToolDeltaAsync(http, id, created, new ToolCallDelta(toolIndex, null, null, new FunctionCallDto { Arguments = piece }), cancellationToken);
                    }

                    toolIndex++;
                }

                if (finish is not null && calls.Count > 0)
                {
                    await WriteEventAsync(http, new ChatCompletionChunk(id, created, _modelId, [new ChunkChoice(0, new ChunkDelta(null, null), finish)], null), cancellationToken);
                }

                if (finish is not null)
                {
                    LogCompleted(_logger, true, usage?.PromptTokens ?? 0, usage?.CompletionTokens ?? 0, finish);
                }
            }

            if (request.IncludeUsage && usage is not null)
            {
                await WriteEventAsync(http, new ChatCompletionChunk(id, created, _modelId, [], usage), cancellationToken);
            }

            await http.Response.Body.WriteAsync(Done, cancellationToken);
            await http.Response.Body.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is OperationCanceledException or IOException)
        {
            ApiTelemetry.Disconnects.Add(1, new KeyValuePair<string, object?>("stream", true));
            LogStreamStopped(_logger, Volatile.Read(ref generated));
        }
    }

    private static async Task WriteEventAsync(HttpContext http, ChatCompletionChunk chunk, CancellationToken cancellationToken)
    {
        var body = http.Response.Body;
        await body.WriteAsync(DataPrefix, cancellationToken);
        await JsonSerializer.SerializeAsync(body, chunk, ApiJson.Options, cancellationToken);
        await body.WriteAsync(EventEnd, cancellationToken);
        await body.FlushAsync(cancellationToken);
    }

    private Task WriteToolDeltaAsync(HttpContext http, string id, long created, ToolCallDelta delta, CancellationToken cancellationToken) =>
        WriteEventAsync(http, new ChatCompletionChunk(id, created, _modelId, [new ChunkChoice(0, new ChunkDelta(null, null, [delta]), null)], null), cancellationToken);

    private static ToolCallDto ToToolCall(FunctionCallContent call) => new()
    {
        Id = call.CallId,
        Type = "function",
        Function = new FunctionCallDto
        {
            Name = call.Name,
            Arguments = JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), ArgumentsJson),
        },
    };

    private static IEnumerable<string> Pieces(string text, int size)
    {
        for (int i = 0; i < text.Length; i += size)
        {
            yield return text.Substring(i, Math.Min(size, text.Length - i));
        }
    }

    private static UsageDto ToUsage(UsageDetails? usage)
    {
        int input = (int)(usage?.InputTokenCount ?? 0);
        int output = (int)(usage?.OutputTokenCount ?? 0);
        return new UsageDto(input, output, input + output);
    }

    private static string ToFinishReason(ChatFinishReason? reason) =>
        reason == ChatFinishReason.Length ? "length" : reason == ChatFinishReason.ToolCalls ? "tool_calls" : "stop";

    private static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N");

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Chat completion (stream {Stream}): {PromptTokens} prompt tokens, {CompletionTokens} completion tokens, finish {FinishReason}")]
    private static partial void LogCompleted(ILogger logger, bool stream, int promptTokens, int completionTokens, string finishReason);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Request refused with {StatusCode} ({Code}, param {Param})")]
    private static partial void LogRefused(ILogger logger, int statusCode, string? code, string? param);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Generation queue full: refused with 429, Retry-After {RetryAfterSeconds} s")]
    private static partial void LogQueueFull(ILogger logger, int retryAfterSeconds);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Client disconnected with {GeneratedTokens} tokens generated; cancelling the generation")]
    private static partial void LogClientDisconnected(ILogger logger, int generatedTokens);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Stream stopped after the client disconnected; last token seen: {GeneratedTokens}")]
    private static partial void LogStreamStopped(ILogger logger, int generatedTokens);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Client disconnected before the answer was ready; generation cancelled")]
    private static partial void LogDisconnectedBeforeAnswer(ILogger logger);
}
