using System.Runtime.CompilerServices;
using LlmKit.Chat.Templates;
using LlmKit.Generation;
using LlmKit.Models;
using ChatFinishReason = Microsoft.Extensions.AI.ChatFinishReason;
using UsageDetails = Microsoft.Extensions.AI.UsageDetails;
using Microsoft.Extensions.Logging;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Services;
using Microsoft.SemanticKernel.TextGeneration;

namespace LlmKit.Chat;

/// <summary>
/// Semantic Kernel chat completion and text generation over a local <see cref="OnnxGenAIModel"/>. Chat requests are
/// rendered with the model family's chat template; text generation sends the prompt as plain completion text.
/// Settings are read through <see cref="OnnxGenAIPromptExecutionSettings"/> (snake_case JSON names).
/// </summary>
/// <remarks>Thread-safe: concurrent requests run as independent generations. The model is not owned by the service.
/// Result metadata carries <c>FinishReason</c> ("Stop" or "Length"), <c>InputTokenCount</c>, <c>CachedInputTokenCount</c> (prompt tokens whose KV cache was reused) and <c>OutputTokenCount</c>.</remarks>
public sealed class OnnxGenAIChatCompletionService : IChatCompletionService, ITextGenerationService
{
    private readonly LocalChatEngine _engine;
    private readonly Dictionary<string, object?> _attributes;

    /// <summary>Creates the service over a model.</summary>
    /// <param name="model">The loaded model (not owned).</param>
    /// <param name="options">Template and defaults; null for defaults.</param>
    /// <param name="loggerFactory">For the per-response log line; null for none.</param>
    /// <exception cref="ChatTemplateException">The folder's chat template is not recognised; set <see cref="OnnxChatClientOptions.ChatTemplate"/>.</exception>
    public OnnxGenAIChatCompletionService(OnnxGenAIModel model, OnnxChatClientOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(new OnnxChatClient(model, options, loggerFactory?.CreateLogger<OnnxChatClient>()))
    {
    }

    /// <summary>Creates the service over any <see cref="IGenerationEngine"/> (LlmKit's own model or another engine).</summary>
    /// <param name="engine">The loaded engine (not owned).</param>
    /// <param name="options">Template and defaults; null for defaults.</param>
    /// <param name="loggerFactory">For the per-response log line; null for none.</param>
    /// <exception cref="ChatTemplateException">The folder's chat template is not recognised; set <see cref="OnnxChatClientOptions.ChatTemplate"/>.</exception>
    public OnnxGenAIChatCompletionService(IGenerationEngine engine, OnnxChatClientOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(new OnnxChatClient(engine, options, loggerFactory?.CreateLogger<OnnxChatClient>()))
    {
    }

    /// <summary>Creates the service over an existing client, sharing its model, template and defaults.</summary>
    /// <param name="chatClient">The client (not owned).</param>
    public OnnxGenAIChatCompletionService(OnnxChatClient chatClient)
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        _engine = chatClient.Engine;
        _attributes = new Dictionary<string, object?> { [AIServiceExtensions.ModelIdKey] = _engine.ModelId };
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> Attributes => _attributes;

    /// <inheritdoc />
    public async Task<IReadOnlyList<ChatMessageContent>> GetChatMessageContentsAsync(ChatHistory chatHistory, PromptExecutionSettings? executionSettings = null, Kernel? kernel = null, CancellationToken cancellationToken = default)
    {
        var (prompt, settings) = PrepareChat(chatHistory, executionSettings);
        var result = await _engine.GenerateAsync(prompt, settings, cancellationToken).ConfigureAwait(false);
        return [.. result.Sequences.Select(s => new ChatMessageContent(AuthorRole.Assistant, s.Text, _engine.ModelId, result, metadata: Metadata(result.PromptTokenCount, s.TokenIds.Count, result.CachedPromptTokenCount, s.FinishReason)))];
    }

    /// <inheritdoc />
    public IAsyncEnumerable<StreamingChatMessageContent> GetStreamingChatMessageContentsAsync(ChatHistory chatHistory, PromptExecutionSettings? executionSettings = null, Kernel? kernel = null, CancellationToken cancellationToken = default)
    {
        var (prompt, settings) = PrepareChat(chatHistory, executionSettings);
        return StreamChat(prompt, settings, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<TextContent>> GetTextContentsAsync(string prompt, PromptExecutionSettings? executionSettings = null, Kernel? kernel = null, CancellationToken cancellationToken = default)
    {
        var (tokens, settings) = PrepareText(prompt, executionSettings);
        var result = await _engine.GenerateAsync(tokens, settings, cancellationToken).ConfigureAwait(false);
        return [.. result.Sequences.Select(s => new TextContent(s.Text, _engine.ModelId, result, metadata: Metadata(result.PromptTokenCount, s.TokenIds.Count, result.CachedPromptTokenCount, s.FinishReason)))];
    }

    /// <inheritdoc />
    public IAsyncEnumerable<StreamingTextContent> GetStreamingTextContentsAsync(string prompt, PromptExecutionSettings? executionSettings = null, Kernel? kernel = null, CancellationToken cancellationToken = default)
    {
        var (tokens, settings) = PrepareText(prompt, executionSettings);
        return StreamText(tokens, settings, cancellationToken);
    }

    private (int[] Prompt, GenerationOptions Settings) PrepareChat(ChatHistory chatHistory, PromptExecutionSettings? executionSettings)
    {
        ArgumentNullException.ThrowIfNull(chatHistory);
        var settings = _engine.Merge(OnnxGenAIPromptExecutionSettings.FromExecutionSettings(executionSettings).ToGenerationOptions());
        var messages = new List<ChatTemplateMessage>(chatHistory.Count);
        foreach (var message in chatHistory)
        {
            foreach (var item in message.Items)
            {
                if (item is not TextContent)
                {
                    throw new NotSupportedException($"Chat message content of type {item.GetType().Name} is not supported by LlmKit's ONNX GenAI service (text only).");
                }
            }

            messages.Add(new ChatTemplateMessage(ToTemplateRole(message.Role), message.Content ?? ""));
        }

        return (_engine.EncodeChat(messages), settings);
    }

    private (int[] Prompt, GenerationOptions Settings) PrepareText(string prompt, PromptExecutionSettings? executionSettings)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var settings = _engine.Merge(OnnxGenAIPromptExecutionSettings.FromExecutionSettings(executionSettings).ToGenerationOptions());
        return (_engine.EncodeRaw(prompt), settings);
    }

    private async IAsyncEnumerable<StreamingChatMessageContent> StreamChat(int[] prompt, GenerationOptions settings, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var update in _engine.StreamAsync(prompt, settings, cancellationToken).ConfigureAwait(false))
        {
            if (update.Text.Length > 0 || update.FinishReason is not null)
            {
                yield return new StreamingChatMessageContent(AuthorRole.Assistant, update.Text, update, 0, _engine.ModelId, metadata: LastMetadata(update));
            }
        }
    }

    private async IAsyncEnumerable<StreamingTextContent> StreamText(int[] prompt, GenerationOptions settings, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var update in _engine.StreamAsync(prompt, settings, cancellationToken).ConfigureAwait(false))
        {
            if (update.Text.Length > 0 || update.FinishReason is not null)
            {
                yield return new StreamingTextContent(update.Text, 0, _engine.ModelId, update, metadata: LastMetadata(update));
            }
        }
    }

    private static Dictionary<string, object?>? LastMetadata(GenerationUpdate update) =>
        update.FinishReason is { } reason ? Metadata(update.PromptTokenCount, update.GeneratedTokenCount, update.CachedPromptTokenCount, reason) : null;

    private static Dictionary<string, object?> Metadata(int input, int output, int cached, GenerationFinishReason reason) => new()
    {
        ["FinishReason"] = ChatOptionsMapper.ToFinishReason(reason).Value == ChatFinishReason.Length.Value ? "Length" : "Stop",
        ["InputTokenCount"] = input,
        ["OutputTokenCount"] = output,
        ["CachedInputTokenCount"] = cached,
        ["Usage"] = new UsageDetails { InputTokenCount = input, CachedInputTokenCount = cached, OutputTokenCount = output, TotalTokenCount = input + output },
    };

    private static ChatTemplateRole ToTemplateRole(AuthorRole role)
    {
        if (role == AuthorRole.System || role == AuthorRole.Developer)
        {
            return ChatTemplateRole.System;
        }

        if (role == AuthorRole.User)
        {
            return ChatTemplateRole.User;
        }

        if (role == AuthorRole.Assistant)
        {
            return ChatTemplateRole.Assistant;
        }

        throw new NotSupportedException($"Chat role '{role}' is not supported by LlmKit's ONNX GenAI service (system, user and assistant only).");
    }
}
