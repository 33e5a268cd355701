using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmKit.Plugins.Compression.History;

/// <summary>A run of messages kept or dropped together: a turn (a user message and the replies, calls and results after it), extended so a function call never loses its results.</summary>
internal sealed class HistoryUnit<TMessage>
{
    public List<TMessage> Messages { get; } = [];

    public List<string> FunctionNames { get; } = [];

    public bool HasFunctionContent { get; set; }

    public bool HasUser { get; set; }
}

/// <summary>
/// A history split into the system instruction and atomic units. The reducers' own earlier artefacts (re-asserted
/// instruction copies, omission notes) are removed here and re-created by <see cref="HistoryComposer{TMessage}"/>.
/// </summary>
internal sealed partial class HistoryLayout<TMessage>
{
    public TMessage? Instruction { get; private init; }

    public List<HistoryUnit<TMessage>> Units { get; } = [];

    /// <summary>Messages earlier reductions omitted (read from their note), and the function names they listed.</summary>
    public int PreviouslyOmitted { get; private set; }

    public List<string> PreviouslyOmittedFunctions { get; } = [];

    public static HistoryLayout<TMessage> Analyze(IReadOnlyList<TMessage> messages, IMessageAdapter<TMessage> adapter)
    {
        int instructionIndex = -1;
        for (int i = 0; i < messages.Count; i++)
        {
            if (adapter.RoleOf(messages[i]) == HistoryMessageRole.System && adapter.TagOf(messages[i]) is null)
            {
                instructionIndex = i;
                break;
            }
        }

        var layout = new HistoryLayout<TMessage> { Instruction = instructionIndex >= 0 ? messages[instructionIndex] : default };
        var rest = new List<TMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            if (i == instructionIndex)
            {
                continue;
            }

            string? tag = adapter.TagOf(messages[i]);
            if (tag == HistoryTags.ReassertedInstruction)
            {
                continue;
            }

            if (tag == HistoryTags.OmissionNote)
            {
                layout.ReadNote(adapter.TextOf(messages[i]));
                continue;
            }

            rest.Add(messages[i]);
        }

        layout.BuildUnits(rest, adapter);
        return layout;
    }

    private void BuildUnits(List<TMessage> messages, IMessageAdapter<TMessage> adapter)
    {
        int n = messages.Count;
        var callIds = new List<string>[n];
        var resultIds = new List<string>[n];
        var names = new List<string>[n];
        var callOwner = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            (callIds[i], resultIds[i], names[i]) = ([], [], []);
            adapter.CollectFunctionContent(messages[i], callIds[i], resultIds[i], names[i]);
            foreach (string id in callIds[i])
            {
                callOwner.TryAdd(id, i);
            }
        }

        // reach[i]: the last message that must stay with message i (its calls' results).
        var reach = new int[n];
        for (int i = 0; i < n; i++)
        {
            reach[i] = Math.Max(reach[i], i);
            foreach (string id in resultIds[i])
            {
                if (callOwner.TryGetValue(id, out int owner) && owner < i)
                {
                    reach[owner] = Math.Max(reach[owner], i);
                }
            }
        }

        int start = 0;
        while (start < n)
        {
            // A unit is a turn: a user message with everything up to the next user message, extended further
            // when a function call's results arrive later.
            int end = reach[start];
            for (int i = start; i <= end; i++)
            {
                end = Math.Max(end, reach[i]);
                if (i == end && end + 1 < n && adapter.RoleOf(messages[end + 1]) != HistoryMessageRole.User)
                {
                    end++;
                }
            }

            var unit = new HistoryUnit<TMessage>();
            for (int i = start; i <= end; i++)
            {
                unit.Messages.Add(messages[i]);
                unit.FunctionNames.AddRange(names[i]);
                unit.HasFunctionContent |= callIds[i].Count > 0 || resultIds[i].Count > 0;
                unit.HasUser |= adapter.RoleOf(messages[i]) == HistoryMessageRole.User;
            }

            Units.Add(unit);
            start = end + 1;
        }
    }

    private void ReadNote(string text)
    {
        Match count = NoteCount().Match(text);
        if (count.Success)
        {
            PreviouslyOmitted += int.Parse(count.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        Match functions = NoteFunctions().Match(text);
        if (functions.Success)
        {
            foreach (string name in functions.Groups[1].Value.Split(", ", StringSplitOptions.RemoveEmptyEntries))
            {
                PreviouslyOmittedFunctions.Add(name);
            }
        }
    }

    [GeneratedRegex(@"^\[(\d+) earlier messages? (?:was|were) omitted")]
    private static partial Regex NoteCount();

    [GeneratedRegex(@"function calls omitted: ([^\]]*?)\.\]$")]
    private static partial Regex NoteFunctions();
}
