using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmKit.Plugins.Ordinal.Integration;

/// <summary>The plugin's ActivitySource and Meter, both named "LlmKit.Ordinal". No user text is ever recorded.</summary>
public static class OrdinalTelemetry
{
    /// <summary>Name of the <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string Name = "LlmKit.Ordinal";

    internal static readonly ActivitySource ActivitySource = new(Name);

    internal static readonly Meter Meter = new(Name);

    /// <summary>Texts rated, tagged with the predicted rank index.</summary>
    internal static readonly Counter<long> Ratings = Meter.CreateCounter<long>("llmkit.ordinal.ratings", unit: "{text}", description: "Texts rated by an ordinal classifier.");

    /// <summary>Time to embed and rate a batch.</summary>
    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("llmkit.ordinal.rating.duration", unit: "ms", description: "Time to embed and rate one call's texts.");
}
