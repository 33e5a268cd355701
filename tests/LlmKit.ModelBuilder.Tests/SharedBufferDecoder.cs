using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>
/// A minimal batch-1 loop in past_present_share_buffer mode: each layer's KV buffers are allocated once at
/// max_length and bound as both past input and present output, so GroupQueryAttention writes in place.
/// </summary>
internal sealed class SharedBufferDecoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly List<OrtValue> _buffers = [];
    private readonly int _layers;
    private readonly bool _hasPositionIds;
    private int _length;

    public SharedBufferDecoder(string folder, int maxLength)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "genai_config.json")));
        var model = doc.RootElement.GetProperty("model");
        var decoder = model.GetProperty("decoder");
        _layers = decoder.GetProperty("num_hidden_layers").GetInt32();
        int kvHeads = decoder.GetProperty("num_key_value_heads").GetInt32();
        int headSize = decoder.GetProperty("head_size").GetInt32();
        VocabSize = model.GetProperty("vocab_size").GetInt32();
        _hasPositionIds = decoder.GetProperty("inputs").TryGetProperty("position_ids", out _);
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        _session = new InferenceSession(Path.Combine(folder, "model.onnx"), options);
        for (int i = 0; i < 2 * _layers; i++)
        {
            _buffers.Add(OrtValue.CreateTensorValueFromMemory(new float[kvHeads * maxLength * headSize], [1, kvHeads, maxLength, headSize]));
        }
    }

    public int VocabSize { get; }

    /// <summary>Runs the next tokens and returns their logits [tokens, vocab].</summary>
    public float[] Run(int[] tokens)
    {
        int total = _length + tokens.Length;
        using var ids = OrtValue.CreateTensorValueFromMemory(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        using var mask = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, total).ToArray(), [1, total]);
        using var positions = OrtValue.CreateTensorValueFromMemory(Enumerable.Range(_length, tokens.Length).Select(p => (long)p).ToArray(), [1, tokens.Length]);
        using var logits = OrtValue.CreateTensorValueFromMemory(new float[tokens.Length * VocabSize], [1, tokens.Length, VocabSize]);
        using var binding = _session.CreateIoBinding();
        binding.BindInput("input_ids", ids);
        binding.BindInput("attention_mask", mask);
        if (_hasPositionIds)
        {
            binding.BindInput("position_ids", positions);
        }

        binding.BindOutput("logits", logits);
        for (int l = 0; l < _layers; l++)
        {
            binding.BindInput($"past_key_values.{l}.key", _buffers[2 * l]);
            binding.BindInput($"past_key_values.{l}.value", _buffers[(2 * l) + 1]);
            binding.BindOutput($"present.{l}.key", _buffers[2 * l]);
            binding.BindOutput($"present.{l}.value", _buffers[(2 * l) + 1]);
        }

        using var runOptions = new RunOptions();
        _session.RunWithBinding(runOptions, binding);
        _length = total;
        return logits.GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose()
    {
        foreach (var buffer in _buffers)
        {
            buffer.Dispose();
        }

        _session.Dispose();
    }
}
