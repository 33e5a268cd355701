using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>The key/value cache of one batch: per layer, keys and values [batch, kv_heads, length, head_size].</summary>
internal sealed record KvCache(int Batch, int Length, float[][] Keys, float[][] Values)
{
    public static KvCache Empty(int layers, int batch) =>
        new(batch, 0, Enumerable.Range(0, layers).Select(_ => Array.Empty<float>()).ToArray(), Enumerable.Range(0, layers).Select(_ => Array.Empty<float>()).ToArray());
}

/// <summary>
/// A minimal test-only driver of a converted model over ONNX Runtime: one InferenceSession, inputs as named in
/// genai_config.json, present fed back as past. It proves the graph; the product's generation loop is elsewhere.
/// </summary>
internal sealed class OrtDecoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtLoraAdapter? _adapter;

    /// <summary>Loads a folder's decoder; with <paramref name="adapterPath"/>, every run activates that .onnx_adapter (ORT's RunOptions.AddActiveLoraAdapter).</summary>
    public OrtDecoder(string modelFolder, string? adapterPath = null)
    {
        _adapter = adapterPath is null ? null : OrtLoraAdapter.Create(adapterPath, null); // null allocator: parameters stay on the CPU
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(modelFolder, "genai_config.json")));
        var decoder = doc.RootElement.GetProperty("model").GetProperty("decoder");
        Layers = decoder.GetProperty("num_hidden_layers").GetInt32();
        KvHeads = decoder.GetProperty("num_key_value_heads").GetInt32();
        HeadSize = decoder.GetProperty("head_size").GetInt32();
        VocabSize = doc.RootElement.GetProperty("model").GetProperty("vocab_size").GetInt32();
        HasPositionIds = decoder.GetProperty("inputs").TryGetProperty("position_ids", out _);
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        _session = new InferenceSession(Path.Combine(modelFolder, decoder.GetProperty("filename").GetString()!), options);
        Half = _session.InputMetadata["past_key_values.0.key"].ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16;
    }

    /// <summary>True for an fp16 graph: the cache is kept as float here and converted at the graph's edges.</summary>
    public bool Half { get; }

    public int Layers { get; }

    public int KvHeads { get; }

    public int HeadSize { get; }

    public int VocabSize { get; }

    public bool HasPositionIds { get; }

    public IReadOnlyList<string> InputNames => _session.InputNames;

    /// <summary>
    /// Runs one step. <paramref name="ids"/> and <paramref name="positions"/> are [batch, seq] row-major;
    /// <paramref name="mask"/> is [batch, past + seq]. Returns logits [batch, seq, vocab] and the new cache.
    /// </summary>
    public (float[] Logits, KvCache Present) Run(int batch, long[] ids, long[] mask, long[] positions, KvCache past)
    {
        int seq = ids.Length / batch;
        int total = mask.Length / batch;
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [batch, seq]),
            OrtValue.CreateTensorValueFromMemory(mask, [batch, total]),
        };
        if (HasPositionIds)
        {
            names.Add("position_ids");
            values.Add(OrtValue.CreateTensorValueFromMemory(positions, [batch, seq]));
        }

        for (int l = 0; l < Layers; l++)
        {
            names.Add($"past_key_values.{l}.key");
            values.Add(FloatInput(past.Keys[l], [batch, KvHeads, past.Length, HeadSize]));
            names.Add($"past_key_values.{l}.value");
            values.Add(FloatInput(past.Values[l], [batch, KvHeads, past.Length, HeadSize]));
        }

        var outputNames = new List<string> { "logits" };
        for (int l = 0; l < Layers; l++)
        {
            outputNames.Add($"present.{l}.key");
            outputNames.Add($"present.{l}.value");
        }

        try
        {
            using var runOptions = new RunOptions();
            if (_adapter is not null)
            {
                runOptions.AddActiveLoraAdapter(_adapter);
            }

            using var outputs = _session.Run(runOptions, names, values, outputNames);
            float[] logits = FloatOutput(outputs[0]);
            var keys = new float[Layers][];
            var vals = new float[Layers][];
            for (int l = 0; l < Layers; l++)
            {
                keys[l] = FloatOutput(outputs[1 + (2 * l)]);
                vals[l] = FloatOutput(outputs[2 + (2 * l)]);
            }

            int presentLength = (int)outputs[1].GetTensorTypeAndShape().Shape[2];
            return (logits, new KvCache(batch, presentLength, keys, vals));
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>Runs a whole prompt at once (batch 1, empty cache) and returns logits [seq, vocab].</summary>
    public (float[] Logits, KvCache Present) Prefill(IReadOnlyList<int> tokens)
    {
        long[] ids = tokens.Select(t => (long)t).ToArray();
        long[] positions = Enumerable.Range(0, tokens.Count).Select(i => (long)i).ToArray();
        long[] mask = Enumerable.Repeat(1L, tokens.Count).ToArray();
        return Run(1, ids, mask, positions, KvCache.Empty(Layers, 1));
    }

    /// <summary>Runs one token (batch 1) after <paramref name="past"/>; returns logits [vocab].</summary>
    public (float[] Logits, KvCache Present) Decode(int token, KvCache past)
    {
        long[] mask = Enumerable.Repeat(1L, past.Length + 1).ToArray();
        return Run(1, [token], mask, [past.Length], past);
    }

    private OrtValue FloatInput(float[] data, long[] shape) => Half
        ? OrtValue.CreateTensorValueFromMemory(data.Select(v => new Float16(BitConverter.HalfToUInt16Bits((System.Half)v))).ToArray(), shape)
        : OrtValue.CreateTensorValueFromMemory(data, shape);

    private float[] FloatOutput(OrtValue value) => Half
        ? [.. value.GetTensorDataAsSpan<Float16>().ToArray().Select(h => (float)BitConverter.UInt16BitsToHalf(h.value))]
        : value.GetTensorDataAsSpan<float>().ToArray();

    public void Dispose()
    {
        _session.Dispose();
        _adapter?.Dispose();
    }
}
