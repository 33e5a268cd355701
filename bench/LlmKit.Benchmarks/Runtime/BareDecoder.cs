using System.Globalization;
using LlmKit.Models;
using Microsoft.ML.OnnxRuntime;

namespace LlmKit.Benchmarks.Runtime;

/// <summary>
/// The floor for a decode step: one bare <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue})"/>
/// with inputs and outputs created beforehand, on a separate session with the same settings. Nothing else.
/// </summary>
internal sealed class BareDecoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly GenAIConfig _config;
    private readonly bool _shared;
    private readonly int _maxLength;
    private readonly RunOptions _runOptions = new();

    public BareDecoder(string folder, int threads, int maxLength)
    {
        _config = GenAIConfigReader.Read(Path.Combine(folder, GenAIConfigReader.FileName));
        using var options = new SessionOptions { IntraOpNumThreads = threads, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        _session = new InferenceSession(Path.Combine(folder, _config.Model.Decoder.Filename), options);
        _shared = _config.Search.PastPresentShareBuffer;
        _maxLength = maxLength;
    }

    /// <summary>Seconds spent in Run for one decode step at each past length (inputs prepared outside the timing).</summary>
    public double TimeSteps(int firstPastLength, int steps)
    {
        var decoder = _config.Model.Decoder;
        int layers = decoder.NumHiddenLayers;
        int kv = decoder.NumKeyValueHeads;
        int hd = decoder.HeadSize;
        int vocab = _config.Model.VocabSize;
        bool hasPositions = _session.InputMetadata.ContainsKey("position_ids");
        double total = 0;
        var kvBuffers = new float[2 * layers][];
        var presentBuffers = new float[2 * layers][];
        int capacity = kv * _maxLength * hd;
        for (int i = 0; i < kvBuffers.Length; i++)
        {
            kvBuffers[i] = new float[capacity];
            presentBuffers[i] = new float[capacity];
        }

        var logits = new float[vocab];
        for (int step = 0; step < steps; step++)
        {
            int past = firstPastLength + step;
            var names = new List<string>();
            var values = new List<OrtValue>();
            var outNames = new List<string>();
            var outValues = new List<OrtValue>();
            try
            {
                Add(names, values, "input_ids", OrtValue.CreateTensorValueFromMemory(new long[] { 5 }, [1, 1]));
                Add(names, values, "attention_mask", OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, past + 1).ToArray(), [1, past + 1]));
                if (hasPositions)
                {
                    Add(names, values, "position_ids", OrtValue.CreateTensorValueFromMemory(new long[] { past }, [1, 1]));
                }

                Add(outNames, outValues, "logits", OrtValue.CreateTensorValueFromMemory(logits, [1, 1, vocab]));
                for (int l = 0; l < layers; l++)
                {
                    for (int kind = 0; kind < 2; kind++)
                    {
                        string suffix = kind == 0 ? "key" : "value";
                        int pastLen = _shared ? _maxLength : past;
                        int presentLen = _shared ? _maxLength : past + 1;
                        var pastValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, kvBuffers[(2 * l) + kind].AsMemory(0, kv * pastLen * hd), [1, kv, pastLen, hd]);
                        Add(names, values, string.Create(CultureInfo.InvariantCulture, $"past_key_values.{l}.{suffix}"), pastValue);
                        var present = _shared
                            ? pastValue
                            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, presentBuffers[(2 * l) + kind].AsMemory(0, kv * presentLen * hd), [1, kv, presentLen, hd]);
                        outNames.Add(string.Create(CultureInfo.InvariantCulture, $"present.{l}.{suffix}"));
                        outValues.Add(present);
                    }
                }

                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                _session.Run(_runOptions, names, values, outNames, outValues);
                total += System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            finally
            {
                foreach (var v in values)
                {
                    v.Dispose();
                }

                if (!_shared)
                {
                    foreach (var v in outValues)
                    {
                        v.Dispose();
                    }
                }
                else
                {
                    outValues[0].Dispose();
                }
            }
        }

        return total;
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }

    private static void Add(List<string> names, List<OrtValue> values, string name, OrtValue value)
    {
        names.Add(name);
        values.Add(value);
    }
}
