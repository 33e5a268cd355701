using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.Tokenizers;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.Compression.History;

/// <summary>
/// When the history exceeds its token budget, asks the chat service to summarise the older turns — function calls
/// and their results included in the transcript it reads — and replaces them by one message tagged
/// <see cref="HistoryTags.Summary"/>. The system instruction stays verbatim and first; recent turns are kept whole
/// (a function call never loses its results); if the result is still over budget, the oldest recent turns are
/// dropped with an omission note.
/// </summary>
/// <remarks>
/// Implements <see cref="IChatHistoryReducer"/> and <see cref="IChatReducer"/>; never mutates its input. A failing
/// chat service raises <see cref="InvalidOperationException"/> and the caller's history is untouched. Thread-safe
/// when the chat client is.
/// </remarks>
public sealed partial class SummarizingHistoryReducer : ChatHistoryReducerBase
{
    /// <summary>Text that starts every summary message.</summary>
    public const string SummaryPrefix = "Summary of the earlier conversation: ";

    private readonly IChatClient _chatClient;
    private readonly Tokenizer _tokenizer;
    private readonly SummarizingHistoryReducerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a reducer.</summary>
    /// <param name="chatClient">Writes the summaries (for an SK <c>IChatCompletionService</c>, pass <c>service.AsChatClient()</c>).</param>
    /// <param name="tokenizer">Tokenizer of the model that reads the history.</param>
    /// <param name="options">Budget and behaviour; null for defaults.</param>
    /// <param name="logger">Logger; null for none.</param>
    /// <exception cref="ArgumentNullException">A required argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public SummarizingHistoryReducer(IChatClient chatClient, Tokenizer tokenizer, SummarizingHistoryReducerOptions? options = null, ILogger<SummarizingHistoryReducer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _options = options ?? new SummarizingHistoryReducerOptions();
        _options.Validate();
        _chatClient = chatClient;
        _tokenizer = tokenizer;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    private protected override async Task<List<TMessage>?> ReduceCoreAsync<TMessage>(IReadOnlyList<TMessage> messages, IMessageAdapter<TMessage> adapter, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var composer = new HistoryComposer<TMessage>(adapter, _tokenizer, _options);
        int before = composer.Count(messages);
        if (before <= _options.MaxTokens)
        {
            return null;
        }

        var layout = HistoryLayout<TMessage>.Analyze(messages, adapter);
        List<HistoryUnit<TMessage>> units = layout.Units;
        int recentBudget = (int)(_options.MaxTokens * _options.RecentShare);
        int firstRecent = units.Count - 1;
        int recentTokens = units.Count == 0 ? 0 : composer.Count(units[^1].Messages);
        while (firstRecent > 0 && recentTokens + composer.Count(units[firstRecent - 1].Messages) <= recentBudget)
        {
            firstRecent--;
            recentTokens += composer.Count(units[firstRecent].Messages);
        }

        List<TMessage> leading = [];
        int summarised = 0;
        if (firstRecent > 0)
        {
            string transcript = Transcript(units.Take(firstRecent), adapter);
            string summary = await SummariseAsync(transcript, firstRecent, cancellationToken).ConfigureAwait(false);
            leading.Add(adapter.Create(HistoryMessageRole.Assistant, SummaryPrefix + summary, HistoryTags.Summary));
            summarised = units.Take(firstRecent).Sum(u => u.Messages.Count);
        }

        HistoryComposer<TMessage>.Fitted fitted = composer.Fit(layout, leading, units.GetRange(firstRecent, units.Count - firstRecent));
        int after = composer.Count(fitted.Messages);
        CompressionTelemetry.Reductions.Add(1);
        LogReduced(before, after, summarised, fitted.DroppedMessages);
        return fitted.Messages;
    }

    private static string Transcript<TMessage>(IEnumerable<HistoryUnit<TMessage>> units, IMessageAdapter<TMessage> adapter)
    {
        var builder = new StringBuilder();
        foreach (HistoryUnit<TMessage> unit in units)
        {
            foreach (TMessage message in unit.Messages)
            {
                builder.AppendLine(adapter.Render(message));
            }
        }

        return builder.ToString();
    }

    private async Task<string> SummariseAsync(string transcript, int units, CancellationToken cancellationToken)
    {
        ChatResponse response;
        try
        {
            response = await _chatClient.GetResponseAsync(
                [new ChatMessage(ChatRole.System, _options.SummaryInstruction), new ChatMessage(ChatRole.User, transcript)],
                new ChatOptions { MaxOutputTokens = _options.SummaryMaxOutputTokens, Temperature = 0 },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidOperationException($"Summarising the {units} oldest turns through the chat service failed; the history was left unchanged: {ex.Message}", ex);
        }

        string text = response.Text.Trim();
        if (text.Length == 0)
        {
            throw new InvalidOperationException($"The chat service returned an empty summary of the {units} oldest turns; the history was left unchanged.");
        }

        return text;
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Reduced history from {Before} to {After} tokens: {Summarised} messages summarised, {Dropped} dropped (named in the omission note).")]
    private partial void LogReduced(int before, int after, int summarised, int dropped);
}
