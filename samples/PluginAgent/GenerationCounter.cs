using System.Diagnostics.Metrics;
using LlmKit.Diagnostics;

namespace PluginAgent;

/// <summary>
/// Counts the local model's finished generations by listening to LlmKit's own meter (<c>llmkit.generations</c>),
/// so the sample can show that a refused prompt never reached the chat service. Thread-safe.
/// </summary>
internal sealed class GenerationCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _count;

    public GenerationCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == LlmKitTelemetry.Name && instrument.Name == "llmkit.generations")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
        _listener.Start();
    }

    /// <summary>Generations finished since this counter started.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Dispose() => _listener.Dispose();
}
