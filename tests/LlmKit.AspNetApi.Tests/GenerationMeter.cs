using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using LlmKit.Diagnostics;

namespace LlmKit.AspNetApi.Tests;

/// <summary>
/// Listens to the runtime's "LlmKit" meter and records each ended generation: its finish reason and the output
/// tokens the runtime counted for it. The runtime records a generation's output tokens and then its finish reason
/// on the same thread, one after the other, which is how the two are paired here.
/// </summary>
internal sealed class GenerationMeter : IDisposable
{
    [ThreadStatic]
    private static long _lastOutputTokens;

    private readonly MeterListener _listener = new();

    public GenerationMeter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == LlmKitTelemetry.Name && instrument.Name is "llmkit.generations" or "llmkit.tokens.output")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "llmkit.tokens.output")
            {
                _lastOutputTokens = value;
                return;
            }

            string reason = "";
            foreach (var tag in tags)
            {
                if (tag.Key == "finish_reason")
                {
                    reason = tag.Value as string ?? "";
                }
            }

            Ended.Enqueue((reason, _lastOutputTokens));
        });
        _listener.Start();
    }

    /// <summary>Generations that ended since the listener started: finish reason and output tokens.</summary>
    public ConcurrentQueue<(string FinishReason, long OutputTokens)> Ended { get; } = new();

    public void Dispose() => _listener.Dispose();
}
