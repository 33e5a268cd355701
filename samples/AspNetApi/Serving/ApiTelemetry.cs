using System.Diagnostics.Metrics;

namespace LlmKit.Samples.AspNetApi.Serving;

/// <summary>
/// The API's own instruments on the meter "LlmKit.AspNetApi" (the runtime's are on "LlmKit"). Tags hold only
/// fixed words (endpoint, outcome), never request text.
/// </summary>
public static class ApiTelemetry
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "LlmKit.AspNetApi";

    private static readonly Meter Meter = new(MeterName, "1.0.0");

    /// <summary>Requests refused with 429 because the generation queue was full.</summary>
    public static Counter<long> Rejected { get; } = Meter.CreateCounter<long>("llmkit.api.rejected", "{request}", "Requests refused because the generation queue was full.");

    /// <summary>Generations stopped because the client went away.</summary>
    public static Counter<long> Disconnects { get; } = Meter.CreateCounter<long>("llmkit.api.client_disconnects", "{request}", "Generations stopped because the client disconnected.");

    /// <summary>Time a request waited for a generation slot.</summary>
    public static Histogram<double> QueueWait { get; } = Meter.CreateHistogram<double>("llmkit.api.queue_wait", "s", "Time spent waiting for a generation slot.");
}
