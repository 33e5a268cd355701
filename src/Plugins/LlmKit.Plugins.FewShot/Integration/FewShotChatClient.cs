using System.Runtime.CompilerServices;
using LlmKit.Plugins.FewShot.Diagnostics;
using LlmKit.Plugins.FewShot.Rendering;
using LlmKit.Plugins.FewShot.Selection;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmKit.Plugins.FewShot.Integration;

/// <summary>
/// A delegating <see cref="IChatClient"/> that selects examples for the last user message of every request and
/// inserts them as user/assistant turns after the caller's leading system messages:
/// [caller's system messages] [instruction] [example turns] [the rest of the caller's messages].
/// </summary>
/// <remarks>
/// The caller's message list and message objects are never modified; the inner client receives a new list that holds
/// the caller's own message instances. A request without a user message with text is passed through unchanged.
/// Thread-safe when the selector and the inner client are.
/// </remarks>
public sealed partial class FewShotChatClient : DelegatingChatClient
{
    private readonly IFewShotSelector _selector;
    private readonly FewShotPromptRenderer _renderer;
    private readonly int _count;
    private readonly ILogger _logger;

    /// <summary>Creates the middleware.</summary>
    /// <param name="innerClient">The client that receives the augmented request.</param>
    /// <param name="selector">Chooses the examples.</param>
    /// <param name="options">Count, instruction and ordering; defaults when null.</param>
    /// <param name="logger">Debug logging of injected example counts (never the text).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its range.</exception>
    public FewShotChatClient(IChatClient innerClient, IFewShotSelector selector, FewShotChatClientOptions? options = null, ILogger<FewShotChatClient>? logger = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(selector);
        options ??= new FewShotChatClientOptions();
        options.Validate();
        _selector = selector;
        _count = options.Count;
        _renderer = new FewShotPromptRenderer(new FewShotPromptOptions { Instruction = options.Instruction, Ordering = options.Ordering });
        _logger = logger ?? NullLogger<FewShotChatClient>.Instance;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var augmented = await AugmentAsync(messages, cancellationToken).ConfigureAwait(false);
        return await base.GetResponseAsync(augmented, options, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var augmented = await AugmentAsync(messages, cancellationToken).ConfigureAwait(false);
        await foreach (var update in base.GetStreamingResponseAsync(augmented, options, cancellationToken).ConfigureAwait(false))
        {
            yield return update;
        }
    }

    private async Task<IEnumerable<ChatMessage>> AugmentAsync(IEnumerable<ChatMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var original = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        string? query = null;
        for (int i = original.Count - 1; i >= 0; i--)
        {
            if (original[i].Role == ChatRole.User && !string.IsNullOrWhiteSpace(original[i].Text))
            {
                query = original[i].Text;
                break;
            }
        }

        if (query is null)
        {
            return original;
        }

        var selected = await FewShotTelemetry.SelectTracedAsync(_selector, query, _count, nameof(FewShotChatClient), cancellationToken).ConfigureAwait(false);
        if (selected.Count == 0 && string.IsNullOrWhiteSpace(_renderer.Options.Instruction))
        {
            return original;
        }

        int leadingSystem = 0;
        while (leadingSystem < original.Count && original[leadingSystem].Role == ChatRole.System)
        {
            leadingSystem++;
        }

        var augmented = new List<ChatMessage>(original.Count + (selected.Count * 2) + 1);
        for (int i = 0; i < leadingSystem; i++)
        {
            augmented.Add(original[i]);
        }

        if (!string.IsNullOrWhiteSpace(_renderer.Options.Instruction))
        {
            augmented.Add(new ChatMessage(ChatRole.System, _renderer.Options.Instruction));
        }

        augmented.AddRange(_renderer.RenderExampleMessages(selected));
        for (int i = leadingSystem; i < original.Count; i++)
        {
            augmented.Add(original[i]);
        }

        LogInjected(_logger, selected.Count);
        return augmented;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Injected {Count} few-shot examples into a chat request.")]
    private static partial void LogInjected(ILogger logger, int count);
}
