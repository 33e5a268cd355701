using System.Diagnostics.Metrics;
using LlmKit.Plugins.FewShot.Diagnostics;
using LlmKit.Plugins.FewShot.Integration;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;
using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.FewShot.Tests;

public class TelemetryTests
{
    [Fact]
    public async Task Selection_metrics_are_recorded_without_user_text()
    {
        const string secret = "my very private question about zebras";
        var measurements = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FewShotTelemetry.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            lock (measurements)
            {
                measurements.Add((instrument.Name, value, copy));
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        var store = new FewShotExampleStore([TestSupport.Example("zebras are striped", "yes"), TestSupport.Example("lions roar", "yes")]);
        var plugin = new FewShotPlugin(new Bm25Selector(store));
        await plugin.SelectExamplesAsync(secret, 2);
        listener.RecordObservableInstruments();

        List<(string Instrument, double Value, Dictionary<string, object?> Tags)> mine;
        lock (measurements)
        {
            // Other tests may select concurrently; keep this plugin's measurements (BM25 through the plugin).
            mine = measurements.Where(m => Equals(m.Tags.GetValueOrDefault("fewshot.selector"), nameof(Bm25Selector))).ToList();
        }

        Assert.Contains(mine, m => m.Instrument == "llmkit.fewshot.examples.selected" && m.Value == 2 && Equals(m.Tags["fewshot.caller"], nameof(FewShotPlugin)));
        Assert.Contains(mine, m => m.Instrument == "llmkit.fewshot.selection.duration" && m.Value >= 0);
        Assert.DoesNotContain(mine.SelectMany(m => m.Tags.Values), v => v is string s && s.Contains("zebra", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Kernel_functions_describe_themselves_for_function_calling()
    {
        var plugin = KernelPluginFactory.CreateFromObject(new FewShotPlugin(new Bm25Selector(new FewShotExampleStore())), "FewShot");
        Assert.Equal(["answer", "select_examples"], plugin.Select(f => f.Name).Order(StringComparer.Ordinal));
        foreach (var function in plugin)
        {
            Assert.False(string.IsNullOrWhiteSpace(function.Description));
            Assert.All(function.Metadata.Parameters, p => Assert.False(string.IsNullOrWhiteSpace(p.Description), $"{function.Name}.{p.Name}"));
            Assert.Contains(function.Metadata.Parameters, p => p.Name == "input" && p.IsRequired);
        }
    }
}
