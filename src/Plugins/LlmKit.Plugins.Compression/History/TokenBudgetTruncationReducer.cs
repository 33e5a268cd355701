using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.Tokenizers;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.Compression.History;

/// <summary>
/// Drops the oldest turns until the history fits a budget counted in real tokens (not messages). The system
/// instruction stays verbatim in first position; a function call and its results are dropped or kept together;
/// dropped messages are announced in a tagged note that names the function calls among them.
/// </summary>
/// <remarks>
/// Implements Semantic Kernel's <see cref="IChatHistoryReducer"/> and Microsoft.Extensions.AI's <see cref="IChatReducer"/>.
/// Never mutates the history it is given. The newest turn is always kept, even when it alone exceeds the budget
/// (a warning is logged). Thread-safe.
/// </remarks>
public sealed partial class TokenBudgetTruncationReducer : ChatHistoryReducerBase
{
    private readonly Tokenizer _tokenizer;
    private readonly HistoryReducerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a reducer.</summary>
    /// <param name="tokenizer">Tokenizer of the model that reads the history.</param>
    /// <param name="options">Budget and behaviour; null for defaults.</param>
    /// <param name="logger">Logger; null for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tokenizer"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public TokenBudgetTruncationReducer(Tokenizer tokenizer, HistoryReducerOptions? options = null, ILogger<TokenBudgetTruncationReducer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _options = options ?? new HistoryReducerOptions();
        _options.Validate();
        _tokenizer = tokenizer;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    private protected override Task<List<TMessage>?> ReduceCoreAsync<TMessage>(IReadOnlyList<TMessage> messages, IMessageAdapter<TMessage> adapter, CancellationToken cancellationToken)
        => Task.FromResult(Reduce(messages, adapter));

    private List<TMessage>? Reduce<TMessage>(IReadOnlyList<TMessage> messages, IMessageAdapter<TMessage> adapter)
        where TMessage : class
    {
        var composer = new HistoryComposer<TMessage>(adapter, _tokenizer, _options);
        int before = composer.Count(messages);
        if (before <= _options.MaxTokens)
        {
            return null;
        }

        var layout = HistoryLayout<TMessage>.Analyze(messages, adapter);
        HistoryComposer<TMessage>.Fitted fitted = composer.Fit(layout, [], layout.Units);
        int after = composer.Count(fitted.Messages);
        CompressionTelemetry.Reductions.Add(1);
        LogReduced(before, after, fitted.DroppedMessages, fitted.DroppedFunctionMessages);
        if (after > _options.MaxTokens)
        {
            LogOverBudget(after, _options.MaxTokens);
        }

        return fitted.Messages;
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Truncated history from {Before} to {After} tokens: {Dropped} messages dropped, {FunctionMessages} of them with function content (named in the omission note).")]
    private partial void LogReduced(int before, int after, int dropped, int functionMessages);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "The reduced history has {Tokens} tokens, over the budget of {Budget}: the instruction and the newest turn alone exceed it.")]
    private partial void LogOverBudget(int tokens, int budget);
}
