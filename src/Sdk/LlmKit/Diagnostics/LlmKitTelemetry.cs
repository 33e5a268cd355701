using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmKit.Diagnostics;

/// <summary>
/// LlmKit's <see cref="ActivitySource"/> and <see cref="Meter"/>, both named "LlmKit". Subscribe with
/// OpenTelemetry (<c>AddSource("LlmKit")</c>, <c>AddMeter("LlmKit")</c>). No user text is ever recorded.
/// </summary>
public static class LlmKitTelemetry
{
    /// <summary>The name of the activity source and meter.</summary>
    public const string Name = "LlmKit";

    /// <summary>Activities for generations ("llmkit.generate").</summary>
    public static ActivitySource ActivitySource { get; } = new(Name, "1.0.0");

    /// <summary>The meter.</summary>
    public static Meter Meter { get; } = new(Name, "1.0.0");

    /// <summary>Prompt tokens processed.</summary>
    public static Counter<long> InputTokens { get; } = Meter.CreateCounter<long>("llmkit.tokens.input", "{token}", "Prompt tokens processed.");

    /// <summary>Tokens generated.</summary>
    public static Counter<long> OutputTokens { get; } = Meter.CreateCounter<long>("llmkit.tokens.output", "{token}", "Tokens generated.");

    /// <summary>Time from the start of a generation to its first token.</summary>
    public static Histogram<double> TimeToFirstToken { get; } = Meter.CreateHistogram<double>("llmkit.time_to_first_token", "s", "Time to first token.");

    /// <summary>Generations that ended, tagged with their finish reason (including "cancelled").</summary>
    public static Counter<long> Generations { get; } = Meter.CreateCounter<long>("llmkit.generations", "{generation}", "Generations that ended, by finish reason.");
}
