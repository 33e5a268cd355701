using LlmKit.Models;
using LlmKit.ModelBuilder.HuggingFace;

namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary>
/// A converted Mistral folder (window 16 on every layer) runs in LlmKit with a KV cache bounded by the window over a
/// 10,000-token sequence, and its logits keep matching the windowed reference forward the whole way.
/// </summary>
public sealed class HfSlidingWindowRuntimeTests
{
    // As in HfLogitsMatchReferenceTests: float32 on both sides, summation order only.
    private const float Tolerance = 2e-4f;
    private const int Tokens = 10_000;

    [Fact]
    public void Ten_thousand_tokens_keep_a_window_sized_cache_and_match_the_reference()
    {
        var (shape, _, _) = HfCases.All["mistral"];
        int window = shape.SlidingWindow!.Value;
        using var output = new TempFolder();
        string folder = Path.Combine(output.Path, "mistral-long");

        // The RoPE tables must reach position 10,000; the weights are the same checkpoint as the other Mistral tests.
        HfConverter.Convert(new HfConversionRequest(HfCases.Checkpoint("mistral"), folder) { MaxLength = Tokens + 16 });
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        Assert.Equal(window, model.SlidingWindow);

        // Allocated KV bytes: layers x (key, value) x kv_heads x head_dim x float32 x window positions x 2 (ping-pong buffers).
        long expectedBytes = (long)shape.Layers * 2 * shape.KvHeads * shape.EffectiveHeadDim * sizeof(float) * window * 2;
        Assert.Equal(expectedBytes, model.KvCacheBytesPerSequence);

        int[] tokens = HfCases.Tokens(Tokens, seed: 10_000);
        var reference = HfCases.Reference("mistral", Tokens);
        var state = model.RentState(tokens.AsSpan(0, 1).ToArray());
        try
        {
            int capacity = state.Capacity;
            Assert.True(capacity <= window, $"the state allocates {capacity} positions for a window of {window}");
            int maxLength = 0;
            float maxDiff = 0f;
            for (int pos = 0; pos < Tokens; pos++)
            {
                var logits = state.Append(tokens.AsSpan(pos, 1), CancellationToken.None);
                float diff = Numerics.MaxAbsDiff(logits, reference.Forward(tokens[pos], pos));
                Assert.True(diff <= Tolerance, $"position {pos}: max |logit difference| {diff}");
                maxDiff = MathF.Max(maxDiff, diff);
                maxLength = Math.Max(maxLength, state.Length);
                Assert.Equal(capacity, state.Capacity);
            }

            Assert.True(maxLength <= window, $"the cache held {maxLength} positions, more than the window {window}");
        }
        finally
        {
            model.ReturnState(state);
        }
    }
}
