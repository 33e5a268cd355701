using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmKit.Plugins.Compression;

/// <summary>The plugin's <see cref="ActivitySource"/> and <see cref="Meter"/>, both named <see cref="Name"/>. Metrics carry counts and times only, never user text.</summary>
public static class CompressionTelemetry
{
    /// <summary>Name of the activity source and meter.</summary>
    public const string Name = "LlmKit.Compression";

    internal static readonly ActivitySource ActivitySource = new(Name);
    internal static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> InputTokens = Meter.CreateCounter<long>("llmkit.compression.input_tokens", "{token}", "Tokens of prompts given to the compressor.");
    internal static readonly Counter<long> OutputTokens = Meter.CreateCounter<long>("llmkit.compression.output_tokens", "{token}", "Tokens of the compressed prompts.");
    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("llmkit.compression.duration", "ms", "Wall time of one compression.");
    internal static readonly Counter<long> Reductions = Meter.CreateCounter<long>("llmkit.compression.history_reductions", "{reduction}", "Chat-history reductions performed.");
}
