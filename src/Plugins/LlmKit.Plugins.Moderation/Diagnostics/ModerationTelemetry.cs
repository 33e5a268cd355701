using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmKit.Plugins.Moderation.Diagnostics;

/// <summary>
/// The moderation plugin's <see cref="Meter"/> and <see cref="ActivitySource"/>, both named <see cref="Name"/>.
/// Tags carry only enums (target, category, path, allowed): never user text.
/// </summary>
public static class ModerationTelemetry
{
    /// <summary>The meter and activity source name: "LlmKit.Moderation".</summary>
    public const string Name = "LlmKit.Moderation";

    /// <summary>Counter of decisions, tagged target, category, path and allowed.</summary>
    public const string DecisionsInstrument = "llmkit.moderation.decisions";

    /// <summary>Histogram of check durations in milliseconds, tagged target and path.</summary>
    public const string DurationInstrument = "llmkit.moderation.check.duration";

    internal static readonly ActivitySource ActivitySource = new(Name);

    private static readonly Lazy<Meter> SharedMeter = new(() => new Meter(Name));

    internal sealed class Instruments
    {
        public Instruments(IMeterFactory? meterFactory)
        {
            var meter = meterFactory?.Create(Name) ?? SharedMeter.Value;
            Decisions = meter.CreateCounter<long>(DecisionsInstrument, unit: "{decision}", description: "Moderation decisions by target, category and deciding path.");
            Duration = meter.CreateHistogram<double>(DurationInstrument, unit: "ms", description: "Time taken by one moderation check.");
        }

        public Counter<long> Decisions { get; }

        public Histogram<double> Duration { get; }

        public void Record(ModerationResult result, double milliseconds)
        {
            var tags = new TagList
            {
                { "target", TargetTag(result.Target) },
                { "category", CategoryTag(result.Category) },
                { "path", result.DecidedBy.ToString() },
                { "allowed", result.Allowed },
            };
            Decisions.Add(1, tags);
            Duration.Record(milliseconds, new TagList { { "target", TargetTag(result.Target) }, { "path", result.DecidedBy.ToString() } });
        }

        private static string TargetTag(ModerationTarget target) => target switch
        {
            ModerationTarget.UserInput => "user_input",
            ModerationTarget.FunctionArgument => "function_argument",
            ModerationTarget.FunctionResult => "function_result",
            _ => "model_output",
        };

        private static string CategoryTag(ModerationCategory category) => category switch
        {
            ModerationCategory.Allowed => "allowed",
            ModerationCategory.OffDomain => "off_domain",
            _ => "injection",
        };
    }
}
