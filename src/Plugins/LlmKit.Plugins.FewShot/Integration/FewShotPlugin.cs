using System.ComponentModel;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlmKit.Plugins.FewShot.Diagnostics;
using LlmKit.Plugins.FewShot.Rendering;
using LlmKit.Plugins.FewShot.Selection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.FewShot.Integration;

/// <summary>
/// Semantic Kernel plugin: answers inputs with well-chosen examples in the prompt, and exposes the selection itself.
/// Works with whatever <see cref="IChatCompletionService"/> the kernel has (LlmKit's local model, OpenAI, Ollama, …).
/// </summary>
/// <remarks>Thread-safe when the selector is.</remarks>
public sealed partial class FewShotPlugin
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // read by models and people; not embedded in HTML
    };

    private readonly IFewShotSelector _selector;
    private readonly FewShotPromptRenderer _renderer;
    private readonly ILogger _logger;

    /// <summary>Creates the plugin.</summary>
    /// <param name="selector">Chooses the examples.</param>
    /// <param name="renderer">Turns them into chat turns; defaults when null.</param>
    /// <param name="defaultCount">Examples per call when the caller passes 0; 1 to 64. Default 4.</param>
    /// <param name="executionSettings">Settings passed to the chat service by <see cref="AnswerAsync"/> (e.g. temperature); null for the service defaults.</param>
    /// <param name="logger">Debug logging (counts only, never text).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="defaultCount"/> is outside its range.</exception>
    public FewShotPlugin(
        IFewShotSelector selector,
        FewShotPromptRenderer? renderer = null,
        int defaultCount = 4,
        PromptExecutionSettings? executionSettings = null,
        ILogger<FewShotPlugin>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        if (defaultCount is < 1 or > FewShotOptions.MaxCount)
        {
            throw new ArgumentOutOfRangeException(nameof(defaultCount), defaultCount, $"defaultCount must be between 1 and {FewShotOptions.MaxCount}.");
        }

        _selector = selector;
        _renderer = renderer ?? new FewShotPromptRenderer();
        DefaultCount = defaultCount;
        ExecutionSettings = executionSettings;
        _logger = logger ?? NullLogger<FewShotPlugin>.Instance;
    }

    /// <summary>Examples per call when the caller passes 0.</summary>
    public int DefaultCount { get; }

    /// <summary>Settings passed to the chat service, or null.</summary>
    public PromptExecutionSettings? ExecutionSettings { get; }

    /// <summary>Answers <paramref name="input"/> through the kernel's chat service, with the selected examples as prior turns.</summary>
    /// <param name="kernel">The kernel whose <see cref="IChatCompletionService"/> answers.</param>
    /// <param name="input">The input to answer.</param>
    /// <param name="count">Examples to show (1 to 64); 0 uses <see cref="DefaultCount"/>.</param>
    /// <param name="cancellationToken">Cancels selection and generation.</param>
    /// <returns>The model's answer.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is outside its range.</exception>
    /// <exception cref="KernelException">The kernel has no chat completion service.</exception>
    [KernelFunction("answer")]
    [Description("Answers the input by first showing the model the most relevant solved examples of the same task.")]
    public async Task<string> AnswerAsync(
        Kernel kernel,
        [Description("The input to answer.")] string input,
        [Description("How many examples to show; 0 uses the default.")] int count = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(input);
        int k = ResolveCount(count);
        var chat = kernel.GetRequiredService<IChatCompletionService>();
        var selected = await FewShotTelemetry.SelectTracedAsync(_selector, input, k, nameof(FewShotPlugin), cancellationToken).ConfigureAwait(false);
        var history = _renderer.RenderChatHistory(selected, input);
        LogAnswering(_logger, selected.Count);
        var reply = await chat.GetChatMessageContentAsync(history, ExecutionSettings, kernel, cancellationToken).ConfigureAwait(false);
        return reply.Content ?? string.Empty;
    }

    /// <summary>Returns the selected examples as a JSON array of <c>{"input", "output", "label", "score"}</c>, best first.</summary>
    /// <param name="input">The input the examples should help with.</param>
    /// <param name="count">Examples to return (1 to 64); 0 uses <see cref="DefaultCount"/>.</param>
    /// <param name="cancellationToken">Cancels the selection.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is outside its range.</exception>
    [KernelFunction("select_examples")]
    [Description("Returns the solved examples most useful for the input as a JSON array of {input, output, label, score}, best first.")]
    public async Task<string> SelectExamplesAsync(
        [Description("The input the examples should help with.")] string input,
        [Description("How many examples to return; 0 uses the default.")] int count = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        int k = ResolveCount(count);
        var selected = await FewShotTelemetry.SelectTracedAsync(_selector, input, k, nameof(FewShotPlugin), cancellationToken).ConfigureAwait(false);
        var rows = selected.Select(s => new ExampleJson(s.Example.Input, s.Example.Output, s.Example.Label, Math.Round(s.Score, 6)));
        return JsonSerializer.Serialize(rows, JsonOptions);
    }

    private int ResolveCount(int count)
    {
        if (count == 0)
        {
            return DefaultCount;
        }

        if (count is < 1 or > FewShotOptions.MaxCount)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"count must be between 1 and {FewShotOptions.MaxCount}, or 0 for the default ({DefaultCount}).");
        }

        return count;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Answering with {Count} few-shot examples.")]
    private static partial void LogAnswering(ILogger logger, int count);

    private sealed record ExampleJson(string Input, string Output, string? Label, double Score);
}
