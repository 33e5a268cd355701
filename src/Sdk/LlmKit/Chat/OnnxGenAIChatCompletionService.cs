using System.Runtime.CompilerServices;
using LlmKit.Chat.Templates;
using LlmKit.Chat.Tools;
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
    /// <remarks>With <see cref="PromptExecutionSettings.FunctionChoiceBehavior"/> the kernel's functions are offered in the model family's
    /// tool format. With auto-invocation (the default) calls are invoked through <paramref name="kernel"/> (its auto-function-invocation
    /// filters included), the call message and the results are added to <paramref name="chatHistory"/>, and the model is asked again
    /// until it answers in text (at most 128 rounds); Required applies to the first request only. Without auto-invocation the answer's
    /// calls come back as <see cref="Microsoft.SemanticKernel.FunctionCallContent"/> items (metadata FinishReason "ToolCalls").</remarks>
    public async Task<IReadOnlyList<ChatMessageContent>> GetChatMessageContentsAsync(ChatHistory chatHistory, PromptExecutionSettings? executionSettings = null, Kernel? kernel = null, CancellationToken cancellationToken = default)
    {
        var (settings, generation) = PrepareSettings(chatHistory, executionSettings);
        for (int requestIndex = 0; ; requestIndex++)
        {
            var plan = KernelToolPlan.Create(settings.FunctionChoiceBehavior, chatHistory, kernel, requestIndex, _engine.ToolFormat, _engine.Template.Kind);
            var prompt = EncodeHistory(chatHistory, plan?.Request);
            var result = await _engine.GenerateAsync(prompt, _engine.Merge(ToolConstraints.Apply(generation, plan?.Request)), cancellationToken).ConfigureAwait(false);
            if (plan is null || result.Sequences.Count > 1)
            {
                return [.. result.Sequences.Select(s => new ChatMessageContent(AuthorRole.Assistant, s.Text, _engine.ModelId, result, metadata: Metadata(result.PromptTokenCount, s.TokenIds.Count, result.CachedPromptTokenCount, s.FinishReason)))];
            }

            var parsed = plan.Request.Format.Parse(result.Text);
            var calls = parsed.Calls.Select(KernelToolPlan.ToFunctionCall).ToList();
            var message = AssistantMessage(parsed.Text, calls, result, Metadata(result.PromptTokenCount, result.GeneratedTokenCount, result.CachedPromptTokenCount, result.FinishReason, calls.Count > 0));
            if (calls.Count == 0 || !plan.AutoInvoke)
            {
                return [message];
            }

            chatHistory.Add(message);
            if (await KernelFunctionInvoker.InvokeAsync(plan, message, calls, chatHistory, RequireKernel(kernel), executionSettings, requestIndex, streaming: false, cancellationToken).ConfigureAwait(false))
            {
                return [chatHistory[^1]];
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>Function calling as in <see cref="GetChatMessageContentsAsync"/>: text that may start a call is held back, a round's calls
    /// come whole in its last update (as <see cref="StreamingFunctionCallUpdateContent"/> items when not auto-invoked), and auto-invoked
    /// rounds stream on until the text answer.</remarks>
    public IAsyncEnumerable<StreamingChatMessageContent> GetStreamingChatMessageContentsAsync(ChatHistory chatHistory, PromptExecutionSettings? executionSettings = null, Kernel? kernel = null, CancellationToken cancellationToken = default)
    {
        var (settings, generation) = PrepareSettings(chatHistory, executionSettings);
        return settings.FunctionChoiceBehavior is null
            ? StreamChat(EncodeHistory(chatHistory, null), _engine.Merge(generation), cancellationToken)
            : StreamWithTools(chatHistory, settings, executionSettings, generation, kernel, cancellationToken);
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

    private (OnnxGenAIPromptExecutionSettings Settings, GenerationOptions? Generation) PrepareSettings(ChatHistory chatHistory, PromptExecutionSettings? executionSettings)
    {
        ArgumentNullException.ThrowIfNull(chatHistory);
        var settings = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(executionSettings);
        var generation = settings.ToGenerationOptions();
        _engine.Merge(generation); // validates eagerly, so bad settings throw at the call
        return (settings, generation);
    }

    private int[] EncodeHistory(ChatHistory chatHistory, ToolRequest? tools) =>
        _engine.EncodeChat(KernelFunctionInvoker.ToTemplateMessages(chatHistory, ToTemplateRole), tools);

    private async IAsyncEnumerable<StreamingChatMessageContent> StreamWithTools(
        ChatHistory chatHistory, OnnxGenAIPromptExecutionSettings settings, PromptExecutionSettings? executionSettings, GenerationOptions? generation,
        Kernel? kernel, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int requestIndex = 0; ; requestIndex++)
        {
            var plan = KernelToolPlan.Create(settings.FunctionChoiceBehavior, chatHistory, kernel, requestIndex, _engine.ToolFormat, _engine.Template.Kind);
            var prompt = EncodeHistory(chatHistory, plan?.Request);
            var merged = _engine.Merge(ToolConstraints.Apply(generation, plan?.Request));
            if (plan is null)
            {
                await foreach (var update in StreamChat(prompt, merged, cancellationToken).ConfigureAwait(false))
                {
                    yield return update;
                }

                yield break;
            }

            var splitter = new ToolCallStreamSplitter(plan.Request.Format);
            var text = new System.Text.StringBuilder();
            List<Microsoft.SemanticKernel.FunctionCallContent> calls = [];
            GenerationUpdate? last = null;
            await foreach (var update in _engine.StreamAsync(prompt, merged, cancellationToken).ConfigureAwait(false))
            {
                string released = splitter.Push(update.Text);
                text.Append(released);
                if (update.FinishReason is null)
                {
                    if (released.Length > 0)
                    {
                        yield return new StreamingChatMessageContent(AuthorRole.Assistant, released, update, 0, _engine.ModelId);
                    }

                    continue;
                }

                last = update;
                var rest = splitter.Finish();
                calls = [.. rest.Calls.Select(KernelToolPlan.ToFunctionCall)];
                string tail = released + rest.Text;
                text.Append(rest.Text);
                var final = new StreamingChatMessageContent(AuthorRole.Assistant, tail.Length > 0 ? tail : null, update, 0, _engine.ModelId,
                    metadata: Metadata(update.PromptTokenCount, update.GeneratedTokenCount, update.CachedPromptTokenCount, update.FinishReason.Value, calls.Count > 0));
                for (int i = 0; i < calls.Count; i++)
                {
                    final.Items.Add(new StreamingFunctionCallUpdateContent(calls[i].Id, KernelToolPlan.ToolName(calls[i]), rest.Calls[i].ArgumentsJson, i));
                }

                yield return final;
            }

            if (calls.Count == 0 || !plan.AutoInvoke || last is null)
            {
                yield break;
            }

            var message = AssistantMessage(text.ToString(), calls, last,
                Metadata(last.PromptTokenCount, last.GeneratedTokenCount, last.CachedPromptTokenCount, last.FinishReason!.Value, hasToolCalls: true));
            chatHistory.Add(message);
            if (await KernelFunctionInvoker.InvokeAsync(plan, message, calls, chatHistory, RequireKernel(kernel), executionSettings, requestIndex, streaming: true, cancellationToken).ConfigureAwait(false))
            {
                yield break;
            }
        }
    }

    private ChatMessageContent AssistantMessage(string text, IReadOnlyList<Microsoft.SemanticKernel.FunctionCallContent> calls, object innerContent, Dictionary<string, object?> metadata)
    {
        var items = new ChatMessageContentItemCollection();
        if (text.Length > 0)
        {
            items.Add(new Microsoft.SemanticKernel.TextContent(text));
        }

        foreach (var call in calls)
        {
            items.Add(call);
        }

        return new ChatMessageContent(AuthorRole.Assistant, items, _engine.ModelId, innerContent, metadata: metadata);
    }

    private static Kernel RequireKernel(Kernel? kernel) => kernel ?? throw new ArgumentException(
        "Execution setting 'function_choice_behavior' asks for auto-invocation, which needs the kernel: pass it to the call (kernel: ...) or set autoInvoke: false.", nameof(kernel));

    private (int[] Prompt, GenerationOptions Settings) PrepareText(string prompt, PromptExecutionSettings? executionSettings)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var converted = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(executionSettings);
        if (converted.FunctionChoiceBehavior is not null)
        {
            // Plain text generation has no template to show tools in; dropping the setting silently would hide that.
            throw new NotSupportedException("Execution setting 'function_choice_behavior' applies to chat completion only; text generation cannot call functions.");
        }

        var settings = _engine.Merge(converted.ToGenerationOptions());
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

    private static Dictionary<string, object?> Metadata(int input, int output, int cached, GenerationFinishReason reason, bool hasToolCalls = false) => new()
    {
        ["FinishReason"] = hasToolCalls ? "ToolCalls" : ChatOptionsMapper.ToFinishReason(reason).Value == ChatFinishReason.Length.Value ? "Length" : "Stop",
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

        if (role == AuthorRole.Tool)
        {
            return ChatTemplateRole.Tool;
        }

        throw new NotSupportedException($"Chat role '{role}' is not supported by LlmKit's ONNX GenAI service (system, user, assistant and tool only).");
    }
}
