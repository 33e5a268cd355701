using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmKit.Chat.Templates;
using LlmKit.Chat.Tools;
using LlmKit.Generation;
using LlmKit.Models;
using Microsoft.Extensions.Logging;

namespace LlmKit.Chat;

/// <summary>
/// What the M.E.AI client and the Semantic Kernel service share: template rendering, encoding, merging request
/// settings over defaults, generation, and the per-response log line. Thread-safe (the engine is).
/// The engine is LlmKit's own <see cref="OnnxGenAIModel"/> or another <see cref="IGenerationEngine"/> (e.g. onnxruntime-genai).
/// </summary>
internal sealed partial class LocalChatEngine
{
    private readonly ILogger _logger;

    public LocalChatEngine(IGenerationEngine engine, OnnxChatClientOptions options, ILogger logger)
    {
        Engine = engine;
        string? fallbackReason = null;
        Template = options.Template ?? ChatTemplates.Resolve(engine.Tokenizer.Config, engine.ModelType, options.ChatTemplate, out fallbackReason);
        if (fallbackReason is not null)
        {
            LogTemplateFallback(logger, fallbackReason);
        }

        // A folder (Jinja) template is told by its markers; a built-in family by its kind.
        ToolFormat = options.ToolCallFormat ?? ToolCallFormats.For(Template.Kind) ?? ToolCallFormats.Detect(engine.Tokenizer.Config.ChatTemplate);
        ModelId = string.IsNullOrWhiteSpace(options.ModelId) ? engine.ModelId : options.ModelId;
        Defaults = options.DefaultGeneration ?? new GenerationOptions();
        Defaults.Validate();
        _logger = logger;
    }

    public IGenerationEngine Engine { get; }

    /// <summary>LlmKit's own model when that is the engine; null for another engine.</summary>
    public OnnxGenAIModel? Model => Engine as OnnxGenAIModel;

    public IChatTemplate Template { get; }

    public string ModelId { get; }

    /// <summary>How the model writes function calls; null when the template has no known format.</summary>
    public ToolCallFormat? ToolFormat { get; }

    public GenerationOptions Defaults { get; }

    public int[] EncodeChat(IReadOnlyList<ChatTemplateMessage> messages) => ChatPromptEncoder.Encode(Engine.Tokenizer, Template.Render(messages));

    /// <summary>Renders with tools (offered in <paramref name="tools"/>, or calls and results in the history) and encodes.</summary>
    public int[] EncodeChat(IReadOnlyList<ChatTemplateMessage> messages, ToolRequest? tools) =>
        tools is null && !messages.Any(m => m.Role == ChatTemplateRole.Tool || m.ToolCalls is { Count: > 0 })
            ? EncodeChat(messages)
            : ChatPromptEncoder.Encode(Engine.Tokenizer, Template.Render(messages, new ChatTemplateRenderOptions { Tools = tools?.Tools }));

    public int[] EncodeRaw(string prompt) => Engine.Tokenizer.Encode(prompt);

    /// <summary>Request values win; unset ones come from <see cref="Defaults"/>. Throws when the merged settings are invalid.</summary>
    public GenerationOptions Merge(GenerationOptions? request)
    {
        if (request is null)
        {
            return Defaults;
        }

        var merged = new GenerationOptions
        {
            MaxNewTokens = request.MaxNewTokens ?? Defaults.MaxNewTokens,
            Temperature = request.Temperature ?? Defaults.Temperature,
            TopK = request.TopK ?? Defaults.TopK,
            TopP = request.TopP ?? Defaults.TopP,
            MinP = request.MinP ?? Defaults.MinP,
            RepetitionPenalty = request.RepetitionPenalty ?? Defaults.RepetitionPenalty,
            FrequencyPenalty = request.FrequencyPenalty ?? Defaults.FrequencyPenalty,
            PresencePenalty = request.PresencePenalty ?? Defaults.PresencePenalty,
            NoRepeatNGramSize = request.NoRepeatNGramSize ?? Defaults.NoRepeatNGramSize,
            MinNewTokens = request.MinNewTokens ?? Defaults.MinNewTokens,
            NumBeams = request.NumBeams ?? Defaults.NumBeams,
            NumReturnSequences = request.NumReturnSequences ?? Defaults.NumReturnSequences,
            LengthPenalty = request.LengthPenalty ?? Defaults.LengthPenalty,
            EarlyStopping = request.EarlyStopping ?? Defaults.EarlyStopping,
            Seed = request.Seed ?? Defaults.Seed,
            StopSequences = request.StopSequences ?? Defaults.StopSequences,
            // A request's own way of drafting replaces the defaults' other way (the two cannot be combined).
            PromptLookup = request.PromptLookup ?? (request.DraftModel is null ? Defaults.PromptLookup : null),
            DraftModel = request.DraftModel ?? (request.PromptLookup is null ? Defaults.DraftModel : null),
            Adapter = request.Adapter ?? Defaults.Adapter,
            Constraint = request.Constraint ?? Defaults.Constraint,
        };
        merged.Validate();
        return merged;
    }

    public async Task<GenerationResult> GenerateAsync(int[] prompt, GenerationOptions options, CancellationToken cancellationToken)
    {
        var result = await Engine.GenerateAsync(prompt, options, cancellationToken).ConfigureAwait(false);
        LogResponse(result.PromptTokenCount, result.CachedPromptTokenCount, result.GeneratedTokenCount, result.TimeToFirstToken, result.Elapsed, result.FinishReason);
        return result;
    }

    public async IAsyncEnumerable<GenerationUpdate> StreamAsync(int[] prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan firstToken = TimeSpan.Zero;
        await foreach (var update in Engine.GenerateStreamingAsync(prompt, options, cancellationToken).ConfigureAwait(false))
        {
            if (update.GeneratedTokenCount == 1)
            {
                firstToken = clock.Elapsed;
            }

            if (update.FinishReason is { } reason)
            {
                LogResponse(update.PromptTokenCount, update.CachedPromptTokenCount, update.GeneratedTokenCount, firstToken, clock.Elapsed, reason);
            }

            yield return update;
        }
    }

    private void LogResponse(int promptTokens, int cachedTokens, int generated, TimeSpan firstToken, TimeSpan elapsed, GenerationFinishReason reason)
    {
        if (_logger.IsEnabled(LogLevel.Information))
        {
            LogGenerated(_logger, ModelId, generated, elapsed.TotalMilliseconds, GenerationResult.DecodeRate(generated, firstToken, elapsed),
                promptTokens, cachedTokens, firstToken.TotalMilliseconds, reason);
        }
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Reason}")]
    private static partial void LogTemplateFallback(ILogger logger, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "{ModelId}: generated {OutputTokens} tokens in {ElapsedMs:F0} ms ({TokensPerSecond:F1} tok/s) for a {InputTokens}-token prompt ({CachedInputTokens} reused from cache); first token after {FirstTokenMs:F0} ms; finish {FinishReason}")]
    private static partial void LogGenerated(ILogger logger, string modelId, int outputTokens, double elapsedMs, double tokensPerSecond, int inputTokens, int cachedInputTokens, double firstTokenMs, GenerationFinishReason finishReason);
}
