using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.Compression.History;

/// <summary>
/// When the history exceeds its token budget, compresses the text of older turns with a <see cref="PromptCompressor"/>
/// (down to <see cref="CompressingHistoryReducerOptions.MinimumRate"/>), and only then drops the oldest turns.
/// The system instruction and the newest turn are never compressed; function calls and results are kept verbatim
/// (only their surrounding text is compressed) and stay paired.
/// </summary>
/// <remarks>Implements <see cref="IChatHistoryReducer"/> and <see cref="IChatReducer"/>; never mutates its input. Thread-safe.</remarks>
public sealed partial class CompressingHistoryReducer : ChatHistoryReducerBase
{
    private readonly PromptCompressor _compressor;
    private readonly CompressingHistoryReducerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a reducer.</summary>
    /// <param name="compressor">Compresses message text; its target tokenizer counts the budget.</param>
    /// <param name="options">Budget and behaviour; null for defaults.</param>
    /// <param name="logger">Logger; null for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="compressor"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public CompressingHistoryReducer(PromptCompressor compressor, CompressingHistoryReducerOptions? options = null, ILogger<CompressingHistoryReducer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(compressor);
        _options = options ?? new CompressingHistoryReducerOptions();
        _options.Validate();
        _compressor = compressor;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    private protected override async Task<List<TMessage>?> ReduceCoreAsync<TMessage>(IReadOnlyList<TMessage> messages, IMessageAdapter<TMessage> adapter, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var composer = new HistoryComposer<TMessage>(adapter, _compressor.TargetTokenizer, _options);
        int before = composer.Count(messages);
        if (before <= _options.MaxTokens)
        {
            return null;
        }

        var layout = HistoryLayout<TMessage>.Analyze(messages, adapter);
        List<HistoryUnit<TMessage>> units = layout.Units;

        // Text of older, not yet compressed turns; the newest turn is the live question and stays intact.
        var candidates = new List<(int Unit, int Message, string Text)>();
        int candidateTokens = 0;
        for (int u = 0; u < units.Count - 1; u++)
        {
            for (int m = 0; m < units[u].Messages.Count; m++)
            {
                TMessage message = units[u].Messages[m];
                string text = adapter.TextOf(message);
                if (text.Length > 0 && adapter.TagOf(message) is null && adapter.RoleOf(message) != HistoryMessageRole.System)
                {
                    candidates.Add((u, m, text));
                    candidateTokens += composer.CountText(text);
                }
            }
        }

        // The newest user message is what the older text is ranked against (question-aware compression).
        string? query = null;
        if (_options.QuestionAware)
        {
            for (int m = messages.Count - 1; m >= 0 && query is null; m--)
            {
                if (adapter.RoleOf(messages[m]) == HistoryMessageRole.User && adapter.TextOf(messages[m]).Length > 0)
                {
                    query = adapter.TextOf(messages[m]);
                }
            }
        }

        int compressed = 0;
        if (candidateTokens > 0)
        {
            int excess = composer.Count(composer.Compose(layout, [], units, 0)) - _options.MaxTokens;
            double rate = Math.Clamp((double)(candidateTokens - excess) / candidateTokens, _options.MinimumRate, 1);
            if (rate < 1)
            {
                foreach ((int u, int m, string text) in candidates)
                {
                    var parts = PromptParts.FromText(text) with { Query = query };
                    CompressionResult result = await _compressor.CompressAsync(parts, CompressionTarget.Rate(rate), cancellationToken).ConfigureAwait(false);
                    units[u].Messages[m] = adapter.WithText(units[u].Messages[m], result.Text, HistoryTags.Compressed);
                    compressed++;
                }
            }
        }

        HistoryComposer<TMessage>.Fitted fitted = composer.Fit(layout, [], units);
        if (query is not null && fitted.DroppedUnits > 0 && _options.RecallShare > 0)
        {
            fitted = Recall(composer, layout, units, adapter, query, fitted);
        }
        int after = composer.Count(fitted.Messages);
        CompressionTelemetry.Reductions.Add(1);
        LogReduced(before, after, compressed, fitted.DroppedMessages);
        return fitted.Messages;
    }

    /// <summary>Keeps the dropped text messages most relevant to <paramref name="query"/> (BM25 above 0) within <see cref="CompressingHistoryReducerOptions.RecallShare"/> of the budget, right after the instruction.</summary>
    private HistoryComposer<TMessage>.Fitted Recall<TMessage>(HistoryComposer<TMessage> composer, HistoryLayout<TMessage> layout, List<HistoryUnit<TMessage>> units, IMessageAdapter<TMessage> adapter, string query, HistoryComposer<TMessage>.Fitted fitted)
        where TMessage : class
    {
        var candidates = new List<TMessage>();
        for (int u = 0; u < fitted.DroppedUnits; u++)
        {
            if (units[u].HasFunctionContent)
            {
                continue; // a function call must not be separated from its results
            }

            foreach (TMessage message in units[u].Messages)
            {
                HistoryMessageRole role = adapter.RoleOf(message);
                if (role is HistoryMessageRole.User or HistoryMessageRole.Assistant && adapter.TextOf(message).Length > 0 && adapter.TagOf(message) is null or HistoryTags.Compressed or HistoryTags.Recalled)
                {
                    candidates.Add(message);
                }
            }
        }

        double[] scores = Bm25Ranker.Score(query, candidates.Select(adapter.TextOf).ToList());
        var chosen = new List<int>();
        int used = 0;
        foreach (int i in Enumerable.Range(0, candidates.Count).OrderByDescending(i => scores[i]).ThenByDescending(i => i))
        {
            int tokens = composer.Count(candidates[i]);
            if (scores[i] <= 0)
            {
                break;
            }

            if (used + tokens <= _options.RecallShare * _options.MaxTokens)
            {
                chosen.Add(i);
                used += tokens;
            }
        }

        if (chosen.Count == 0)
        {
            return fitted;
        }

        chosen.Sort();
        List<TMessage> recalled = [.. chosen.Select(i => adapter.Create(adapter.RoleOf(candidates[i]), adapter.TextOf(candidates[i]), HistoryTags.Recalled))];
        HistoryComposer<TMessage>.Fitted refitted = composer.Fit(layout, recalled, units);
        return composer.Count(refitted.Messages) <= _options.MaxTokens ? refitted : fitted;
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "Reduced history from {Before} to {After} tokens: {Compressed} messages compressed, {Dropped} dropped (named in the omission note).")]
    private partial void LogReduced(int before, int after, int compressed, int dropped);
}
