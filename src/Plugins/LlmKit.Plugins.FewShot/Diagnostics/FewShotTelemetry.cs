using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmKit.Plugins.FewShot.Diagnostics;

/// <summary>The plugin's <see cref="ActivitySource"/> and <see cref="Meter"/>, both named "LlmKit.FewShot". No user text is ever recorded.</summary>
public static class FewShotTelemetry
{
    /// <summary>Name of the activity source and the meter.</summary>
    public const string Name = "LlmKit.FewShot";

    internal static readonly ActivitySource ActivitySource = new(Name);
    internal static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> ExamplesSelected = Meter.CreateCounter<long>(
        "llmkit.fewshot.examples.selected", unit: "{example}", description: "Examples injected into prompts.");

    internal static readonly Counter<long> DroppedForBudget = Meter.CreateCounter<long>(
        "llmkit.fewshot.examples.dropped", unit: "{example}", description: "Top-ranked examples dropped to fit the token budget.");

    internal static readonly Histogram<double> SelectionDuration = Meter.CreateHistogram<double>(
        "llmkit.fewshot.selection.duration", unit: "ms", description: "Time to select the examples for one input.");

    /// <summary>Runs a selection inside an activity and records its duration and size.</summary>
    internal static async Task<IReadOnlyList<SelectedExample>> SelectTracedAsync(
        Selection.IFewShotSelector selector, string input, int count, string caller, CancellationToken cancellationToken)
    {
        using var activity = ActivitySource.StartActivity("fewshot.select");
        activity?.SetTag("fewshot.selector", selector.GetType().Name);
        activity?.SetTag("fewshot.count", count);
        long start = Stopwatch.GetTimestamp();
        var selected = await selector.SelectAsync(input, count, cancellationToken).ConfigureAwait(false);
        var tags = new TagList { { "fewshot.selector", selector.GetType().Name }, { "fewshot.caller", caller } };
        SelectionDuration.Record(Stopwatch.GetElapsedTime(start).TotalMilliseconds, tags);
        ExamplesSelected.Add(selected.Count, tags);
        activity?.SetTag("fewshot.selected", selected.Count);
        return selected;
    }
}
