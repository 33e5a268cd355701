using System.Globalization;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Compression.History;

/// <summary>
/// Counts messages in real tokens and assembles reduced histories: the instruction first and verbatim, then any
/// leading messages (a summary), an omission note, the newest units that fit, and optionally the instruction
/// re-asserted before the latest user message. One instance per reduction call (it memoises counts).
/// </summary>
internal sealed class HistoryComposer<TMessage>
    where TMessage : class
{
    private readonly IMessageAdapter<TMessage> _adapter;
    private readonly Tokenizer _tokenizer;
    private readonly HistoryReducerOptions _options;
    private readonly Dictionary<TMessage, int> _counts = new(ReferenceEqualityComparer.Instance);

    public HistoryComposer(IMessageAdapter<TMessage> adapter, Tokenizer tokenizer, HistoryReducerOptions options)
    {
        _adapter = adapter;
        _tokenizer = tokenizer;
        _options = options;
    }

    public int Count(TMessage message)
    {
        if (!_counts.TryGetValue(message, out int count))
        {
            count = _tokenizer.CountTokens(_adapter.Render(message)) + _options.PerMessageOverheadTokens;
            _counts[message] = count;
        }

        return count;
    }

    public int Count(IEnumerable<TMessage> messages)
    {
        int total = 0;
        foreach (TMessage message in messages)
        {
            total += Count(message);
        }

        return total;
    }

    public int CountText(string text) => string.IsNullOrEmpty(text) ? 0 : _tokenizer.CountTokens(text);

    /// <summary>The result of fitting: the messages and how many units were dropped.</summary>
    public readonly record struct Fitted(List<TMessage> Messages, int DroppedUnits, int DroppedMessages, int DroppedFunctionMessages);

    /// <summary>Keeps the newest units that fit the budget (at least the newest one) after the instruction and <paramref name="leading"/>.</summary>
    public Fitted Fit(HistoryLayout<TMessage> layout, IReadOnlyList<TMessage> leading, IReadOnlyList<HistoryUnit<TMessage>> units)
    {
        int budget = _options.MaxTokens;
        int fixedTokens = Count(leading) + (layout.Instruction is { } instruction ? Count(instruction) * (_options.ReassertInstruction ? 2 : 1) : 0);
        var suffix = new int[units.Count + 1];
        for (int i = units.Count - 1; i >= 0; i--)
        {
            suffix[i] = suffix[i + 1] + Count(units[i].Messages);
        }

        int start = 0;
        while (start < units.Count - 1 && fixedTokens + suffix[start] > budget)
        {
            start++;
        }

        while (true)
        {
            List<TMessage> composed = Compose(layout, leading, units, start);
            if (start >= units.Count - 1 || Count(composed) <= budget)
            {
                int droppedMessages = 0;
                int droppedFunctionMessages = 0;
                for (int i = 0; i < start; i++)
                {
                    droppedMessages += units[i].Messages.Count;
                    droppedFunctionMessages += units[i].HasFunctionContent ? units[i].Messages.Count : 0;
                }

                return new Fitted(composed, start, droppedMessages, droppedFunctionMessages);
            }

            start++;
        }
    }

    /// <summary>Instruction, leading messages, omission note (for units before <paramref name="start"/>), kept units, re-asserted instruction.</summary>
    public List<TMessage> Compose(HistoryLayout<TMessage> layout, IReadOnlyList<TMessage> leading, IReadOnlyList<HistoryUnit<TMessage>> units, int start)
    {
        var result = new List<TMessage>();
        if (layout.Instruction is { } instruction)
        {
            result.Add(instruction);
        }

        result.AddRange(leading);
        int omitted = layout.PreviouslyOmitted;
        var functions = new List<string>(layout.PreviouslyOmittedFunctions);
        for (int i = 0; i < start; i++)
        {
            omitted += units[i].Messages.Count;
            functions.AddRange(units[i].FunctionNames);
        }

        if (_options.AnnotateOmissions && omitted > 0)
        {
            result.Add(_adapter.Create(HistoryMessageRole.System, OmissionNote(omitted, functions), HistoryTags.OmissionNote));
        }

        int firstKept = result.Count;
        for (int i = start; i < units.Count; i++)
        {
            result.AddRange(units[i].Messages);
        }

        if (_options.ReassertInstruction && layout.Instruction is { } toRepeat && result.Count > firstKept)
        {
            int at = result.Count - 1;
            while (at > firstKept && _adapter.RoleOf(result[at]) != HistoryMessageRole.User)
            {
                at--;
            }

            result.Insert(at, _adapter.Create(HistoryMessageRole.System, _adapter.TextOf(toRepeat), HistoryTags.ReassertedInstruction));
        }

        return result;
    }

    internal static string OmissionNote(int omitted, List<string> functions)
    {
        string head = omitted == 1
            ? "[1 earlier message was omitted to fit the context window"
            : string.Create(CultureInfo.InvariantCulture, $"[{omitted} earlier messages were omitted to fit the context window");
        var distinct = functions.Where(f => !string.IsNullOrEmpty(f)).Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count == 0 ? head + ".]" : head + "; function calls omitted: " + string.Join(", ", distinct) + ".]";
    }
}
