using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation;

/// <summary>
/// <c>decoder.sliding_window</c> is honoured: each position attends to the last window_size positions (itself included,
/// Hugging Face's convention), checked against the managed reference forward with the same window, and the KV cache
/// never holds more than the window however long the sequence grows.
/// </summary>
public sealed class SlidingWindowTests : IDisposable
{
    // Same bound as the builder's reference tests: both sides compute in float32 and differ only in summation order
    // (~1e-5); an attention window off by one position moves logits by 1e-2 or more.
    private const float Tolerance = 1e-4f;
    private const int Window = 16;

    private static readonly LlamaConfig Shape = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 256);

    private readonly TempModelFolder _folder;
    private readonly string _checkpoint;

    public SlidingWindowTests()
    {
        (_checkpoint, _) = TestModels.SyntheticCheckpoint(Shape, seed: 21);
        _folder = TempModelFolder.CopyOf(TestModels.Synthetic(Shape, seed: 21, OnnxGraphForm.Standard));
        _folder.EditConfig(c => c["model"]!["decoder"]!["sliding_window"] = new System.Text.Json.Nodes.JsonObject { ["window_size"] = Window });
    }

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(5)]    // the window fills during decoding
    [InlineData(40)]   // the prompt alone is longer than the window: prefill slides too
    public void Logits_at_every_step_match_the_reference_with_the_same_window(int promptLength)
    {
        using var model = OnnxGenAIModel.Load(_folder.Path, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        Assert.Equal(Window, model.SlidingWindow);
        var random = new Random(promptLength);
        int[] prompt = [.. Enumerable.Range(0, promptLength).Select(_ => random.Next(3, Shape.VocabSize))];
        var reference = new LlamaReference(TestModels.Checkpoint(_checkpoint).Weights, slidingWindow: Window);

        // The reference runs the prompt, then greedy steps; LlmKit's scorer-free path: rent a state and append.
        float[] expected = [];
        for (int pos = 0; pos < prompt.Length; pos++)
        {
            expected = reference.Forward(prompt[pos], pos);
        }

        var state = model.RentState(prompt);
        try
        {
            var logits = state.Append(prompt, CancellationToken.None);
            AssertClose(expected, logits[^Shape.VocabSize..], $"after the {promptLength}-token prompt");
            for (int step = 0; step < 60; step++)
            {
                int next = Array.IndexOf(expected, expected.Max());
                expected = reference.Forward(next, prompt.Length + step);
                var actual = state.Append([next], CancellationToken.None);
                AssertClose(expected, actual, $"decode step {step} (position {prompt.Length + step})");
                Assert.True(state.Length <= Window, $"the KV cache holds {state.Length} positions, more than the window");
            }
        }
        finally
        {
            model.ReturnState(state);
        }
    }

    [Fact]
    public void Without_the_window_the_same_model_disagrees_with_the_windowed_reference()
    {
        // The comparison above must be able to fail: full attention differs from windowed attention past the window.
        using var full = OnnxGenAIModel.Load(TestModels.Synthetic(Shape, seed: 21, OnnxGraphForm.Standard));
        var reference = new LlamaReference(TestModels.Checkpoint(_checkpoint).Weights, slidingWindow: Window);
        int[] prompt = [.. Enumerable.Range(3, 30)];
        float[] expected = [];
        for (int pos = 0; pos < prompt.Length; pos++)
        {
            expected = reference.Forward(prompt[pos], pos);
        }

        var state = full.RentState(prompt);
        try
        {
            float diff = Numerics(expected, state.Append(prompt, CancellationToken.None)[^Shape.VocabSize..]);
            Assert.True(diff > 1e-2f, $"full attention matched the windowed reference (max |diff| {diff})");
        }
        finally
        {
            full.ReturnState(state);
        }
    }

    [Fact]
    public async Task A_conversation_far_longer_than_the_window_keeps_a_window_sized_cache()
    {
        using var windowed = OnnxGenAIModel.Load(_folder.Path);
        using var full = OnnxGenAIModel.Load(TestModels.Synthetic(Shape, seed: 21, OnnxGraphForm.Standard));

        // Memory: the cache is sized to the window, not to the 256-token context.
        Assert.Equal(full.KvCacheBytesPerSequence * Window / full.MaxLength, windowed.KvCacheBytesPerSequence);
        Assert.False(windowed.ReusesPromptPrefixes);

        var result = await windowed.GenerateAsync([1, 5, 9], new GenerationOptions { Temperature = 0, MaxNewTokens = 240, MinNewTokens = 240 });
        Assert.Equal(240, result.GeneratedTokenCount);
    }

    [Fact]
    public void A_shared_buffer_gqa_graph_must_window_in_the_graph()
    {
        using var official = TempModelFolder.CopyOf(TestModels.Synthetic(Shape, seed: 21, OnnxGraphForm.OrtGenAI));
        official.EditConfig(c => c["model"]!["decoder"]!["sliding_window"] = new System.Text.Json.Nodes.JsonObject { ["window_size"] = Window });
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(official.Path));
        Assert.Contains("$.model.decoder.sliding_window", ex.Message, StringComparison.Ordinal);
        Assert.Contains("local_window_size", ex.Message, StringComparison.Ordinal);
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, string where)
    {
        float diff = Numerics(expected, actual);
        Assert.True(diff <= Tolerance, $"{where}: max |logit difference| {diff} > {Tolerance}");
    }

    private static float Numerics(float[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        return max;
    }
}
