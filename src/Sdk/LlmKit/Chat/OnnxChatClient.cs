using System.Runtime.CompilerServices;
using LlmKit.Chat.Templates;
using LlmKit.Chat.Tools;
using LlmKit.Generation;
using LlmKit.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmKit.Chat;

/// <summary>
/// A Microsoft.Extensions.AI <see cref="IChatClient"/> over a local <see cref="OnnxGenAIModel"/> (or another
/// <see cref="IGenerationEngine"/>, such as the onnxruntime-genai engine of <c>LlmKit.OnnxRuntimeGenAI</c>): renders the
/// conversation with the model family's chat template, generates in-process and reports usage and finish reason.
/// Compose it with <see cref="ChatClientBuilder"/> (<c>UseOpenTelemetry</c>, <c>UseLogging</c>, ...).
/// </summary>
/// <remarks>
/// <para><see cref="ChatOptions"/> mapping: Temperature, TopP, TopK, MaxOutputTokens (new tokens), StopSequences, Seed,
/// FrequencyPenalty, PresencePenalty; <c>repetition_penalty</c>, <c>min_p</c> and <c>no_repeat_ngram_size</c> through
/// AdditionalProperties; Instructions extend the leading system message (or become one). ResponseFormat
/// <see cref="ChatResponseFormat.Json"/> and <see cref="ChatResponseFormat.ForJsonSchema(System.Text.Json.JsonElement, string?, string?)"/>
/// constrain decoding (<see cref="Generation.GenerationOptions.Constraint"/>), so <c>GetResponseAsync&lt;T&gt;</c> gets
/// parseable, schema-valid JSON. Tools (<see cref="AIFunctionDeclaration"/>s) with
/// ToolMode Auto / RequireAny / RequireSpecific / None and AllowMultipleToolCalls: the template renders them in the family's format
/// (<see cref="OnnxChatClientOptions.ToolCallFormat"/>), decoding is constrained to text or well-formed calls whose arguments match
/// each function's schema, the output is parsed into <see cref="FunctionCallContent"/>s (finish reason ToolCalls),
/// and <see cref="FunctionResultContent"/>s in role Tool messages go back to the model; compose with <c>UseFunctionInvocation()</c>.
/// Streaming holds back text that may start a call and emits each call whole as soon as its JSON object is complete. With tools and a
/// response format in one request, an automatic turn gives either an answer in that format or calls, and a required call ignores the
/// format; a format whose answers may start with the family's call marker (Llama 3.1's bare <c>{"name": "</c> calls against a JSON
/// object) throws <see cref="NotSupportedException"/>. The client keeps no conversation state: ConversationId is not used.</para>
/// <para>Thread-safe: concurrent requests run as independent generations on the shared model. The client does not own
/// the model; dispose the model yourself (or let the DI container do it).</para>
/// </remarks>
public sealed class OnnxChatClient : IChatClient
{
    private readonly ChatClientMetadata _metadata;

    /// <summary>Creates a client over <paramref name="model"/>.</summary>
    /// <param name="model">The loaded model (not owned).</param>
    /// <param name="options">Template and default settings; null for defaults (template recognised from the folder).</param>
    /// <param name="logger">Receives one line per response (tokens, tok/s); null for none.</param>
    /// <exception cref="ChatTemplateException">The folder's chat template is not recognised; set <see cref="OnnxChatClientOptions.ChatTemplate"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A default generation setting is out of range.</exception>
    public OnnxChatClient(OnnxGenAIModel model, OnnxChatClientOptions? options = null, ILogger<OnnxChatClient>? logger = null)
        : this((IGenerationEngine)model, options, logger)
    {
    }

    /// <summary>Creates a client over any <see cref="IGenerationEngine"/> (LlmKit's own model or another engine).</summary>
    /// <param name="engine">The loaded engine (not owned).</param>
    /// <param name="options">Template and default settings; null for defaults (template recognised from the folder).</param>
    /// <param name="logger">Receives one line per response (tokens, tok/s); null for none.</param>
    /// <exception cref="ChatTemplateException">The folder's chat template is not recognised; set <see cref="OnnxChatClientOptions.ChatTemplate"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A default generation setting is out of range.</exception>
    public OnnxChatClient(IGenerationEngine engine, OnnxChatClientOptions? options = null, ILogger<OnnxChatClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Engine = new LocalChatEngine(engine, options ?? new OnnxChatClientOptions(), (ILogger?)logger ?? NullLogger.Instance);
        _metadata = new ChatClientMetadata("llmkit", null, Engine.ModelId);
    }

    /// <summary>The model this client generates with, when it runs on LlmKit's own engine.</summary>
    /// <exception cref="InvalidOperationException">The client runs on another engine; use <see cref="GenerationEngine"/>.</exception>
    public OnnxGenAIModel Model => Engine.Model ?? throw new InvalidOperationException(
        $"This OnnxChatClient runs on {Engine.Engine.GetType().Name}, not on LlmKit's own OnnxGenAIModel; use GenerationEngine.");

    /// <summary>The engine this client generates with (<see cref="OnnxGenAIModel"/> or another engine).</summary>
    public IGenerationEngine GenerationEngine => Engine.Engine;

    /// <summary>The template conversations are rendered with.</summary>
    public IChatTemplate Template => Engine.Template;

    /// <summary>The model id reported in responses.</summary>
    public string ModelId => Engine.ModelId;

    internal LocalChatEngine Engine { get; }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (prompt, settings, tools) = Prepare(messages, options);
        var result = await Engine.GenerateAsync(prompt, settings, cancellationToken).ConfigureAwait(false);

        // A beam search's num_return_sequences sequences come back as that many assistant messages, best first.
        List<ChatMessage> replies = result.Sequences.Count > 1
            ? [.. result.Sequences.Select(s => new ChatMessage(ChatRole.Assistant, s.Text) { RawRepresentation = s })]
            : [Reply(result.Text, tools)];
        bool called = replies.Any(r => r.Contents.Any(c => c is FunctionCallContent));
        return new ChatResponse(replies)
        {
            ModelId = ModelId,
            ResponseId = NewId(),
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = ChatOptionsMapper.ToFinishReason(result.FinishReason, called),
            Usage = Usage(result.PromptTokenCount, result.GeneratedTokenCount, result.CachedPromptTokenCount),
            RawRepresentation = result,
        };
    }

    /// <inheritdoc />
    /// <remarks>One update per token that completes text; the last update carries the finish reason and a <see cref="UsageContent"/>.</remarks>
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        // Validate eagerly so bad arguments throw at the call.
        var (prompt, settings, tools) = Prepare(messages, options);
        return Stream(prompt, settings, tools, cancellationToken);
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(ChatClientMetadata))
        {
            return _metadata;
        }

        if (serviceType == typeof(OnnxGenAIModel))
        {
            return Engine.Model;
        }

        if (typeof(IGenerationEngine).IsAssignableFrom(serviceType) && serviceType.IsInstanceOfType(Engine.Engine))
        {
            return Engine.Engine;
        }

        if (serviceType == typeof(IChatTemplate))
        {
            return Template;
        }

        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Does nothing: the model is not owned by the client.</summary>
    public void Dispose()
    {
    }

    private (int[] Prompt, GenerationOptions Settings, ToolRequest? Tools) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var tools = ChatToolMapper.ToToolRequest(options, Engine.ToolFormat, Template.Kind);
        var settings = Engine.Merge(ToolConstraints.Apply(ChatOptionsMapper.ToGenerationOptions(options), tools));
        int[] prompt = Engine.EncodeChat(ChatOptionsMapper.ToTemplateMessages(messages, options?.Instructions), tools);
        return (prompt, settings, tools);
    }

    /// <summary>The assistant message of an answer: text, or text and calls when tools were offered.</summary>
    private static ChatMessage Reply(string text, ToolRequest? tools) =>
        tools is null ? new ChatMessage(ChatRole.Assistant, text) : new ChatMessage(ChatRole.Assistant, ChatToolMapper.ToContents(tools.Format.Parse(text)));

    private async IAsyncEnumerable<ChatResponseUpdate> Stream(int[] prompt, GenerationOptions settings, ToolRequest? tools, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string responseId = NewId();
        var created = DateTimeOffset.UtcNow;

        // With tools, text that may be the start of a call is held back; each call is emitted whole as soon as its
        // JSON object is complete, and whatever remains is parsed at the end.
        var splitter = tools is null ? null : new ToolCallStreamSplitter(tools.Format);
        int emittedCalls = 0;
        await foreach (var update in Engine.StreamAsync(prompt, settings, cancellationToken).ConfigureAwait(false))
        {
            string text = splitter?.Push(update.Text) ?? update.Text;
            if (update.FinishReason is null && splitter?.TakeCompletedCalls() is { Count: > 0 } completed)
            {
                var callContents = new List<AIContent>(completed.Count + 1);
                if (text.Length > 0)
                {
                    callContents.Add(new TextContent(text));
                }

                callContents.AddRange(completed.Select(ChatToolMapper.ToFunctionCall));
                emittedCalls += completed.Count;
                yield return new ChatResponseUpdate(ChatRole.Assistant, callContents)
                {
                    ResponseId = responseId,
                    MessageId = responseId,
                    ModelId = ModelId,
                    CreatedAt = created,
                    RawRepresentation = update,
                };
                continue;
            }

            if (update.FinishReason is { } reason)
            {
                var contents = new List<AIContent>(3);
                if (text.Length > 0)
                {
                    contents.Add(new TextContent(text));
                }

                bool called = emittedCalls > 0;
                if (splitter is not null)
                {
                    var rest = splitter.Finish();
                    if (rest.Text.Length > 0)
                    {
                        contents.Add(new TextContent(rest.Text));
                    }

                    contents.AddRange(rest.Calls.Skip(emittedCalls).Select(ChatToolMapper.ToFunctionCall));
                    called |= rest.Calls.Count > 0;
                }

                contents.Add(new UsageContent(Usage(update.PromptTokenCount, update.GeneratedTokenCount, update.CachedPromptTokenCount)));
                yield return new ChatResponseUpdate(ChatRole.Assistant, contents)
                {
                    ResponseId = responseId,
                    MessageId = responseId,
                    ModelId = ModelId,
                    CreatedAt = created,
                    FinishReason = ChatOptionsMapper.ToFinishReason(reason, called),
                    RawRepresentation = update,
                };
            }
            else if (text.Length > 0)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, text)
                {
                    ResponseId = responseId,
                    MessageId = responseId,
                    ModelId = ModelId,
                    CreatedAt = created,
                    RawRepresentation = update,
                };
            }
        }
    }

    private static UsageDetails Usage(int input, int output, int cached) => new()
    {
        InputTokenCount = input,
        CachedInputTokenCount = cached,
        OutputTokenCount = output,
        TotalTokenCount = input + output,
    };

    private static string NewId() => "llmkit-" + Guid.NewGuid().ToString("N");
}
