using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;
using Xunit.Abstractions;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>
/// Dynamic NTK RoPE scaling: the graph takes cos_cache/sin_cache as inputs, and the LlmKit runtime writes the rows of
/// each run with the frequencies of that run's total length, as transformers does. Compared with the reference forward
/// below, above and across the original (training) length.
/// </summary>
public sealed class DynamicRopeScalingTests(ITestOutputHelper output)
{
    private const int Original = 64;
    private const string Spec = "dynamic:2"; // context 128 = 2 x 64

    // Head size 16: RoPE fused into GroupQueryAttention. Head size 8: separate RotaryEmbedding nodes.
    private static readonly LlamaConfig Fused = new(Dim: 32, HiddenDim: 64, Layers: 2, Heads: 2, KvHeads: 1, VocabSize: 300, SeqLen: Original);
    private static readonly LlamaConfig Unfused = new(Dim: 32, HiddenDim: 64, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: Original);

    private const int Seed = 777;

    // float32 on both sides with the same cos/sin values bit for bit; only the summation order of the matrix products
    // and attention differs, which stays near 1e-6 for these logits (order 1-10). A table with other frequencies
    // (unscaled, linear, or the wrong run length) moves them by 1e-2 or more (see the control test).
    private const float Tolerance = 1e-4f;

    public static TheoryData<bool, int> Prompts => new()
    {
        { true, 40 },   // below the original length: plain RoPE
        { true, 100 },  // above: every position of the run uses freq(100)
        { false, 40 },
        { false, 100 },
    };

    [Theory]
    [MemberData(nameof(Prompts))]
    public void Runtime_prompt_logits_equal_the_reference_forward(bool fused, int length)
    {
        var config = fused ? Fused : Unfused;
        using var model = Load(config);
        using var state = new DecoderState(model);
        int[] prompt = Tokens(config, length);

        float[] logits = state.Append(prompt, CancellationToken.None).ToArray();

        var reference = Reference(config, Spec);
        float largest = 0;
        for (int pos = 0; pos < length; pos++)
        {
            float[] expected = reference.Forward(prompt[pos], pos, sequenceLength: length);
            float diff = Numerics.MaxAbsDiff(logits.AsSpan(pos * config.VocabSize, config.VocabSize), expected);
            Assert.True(diff <= Tolerance, $"fused {fused}, prompt {length}, position {pos}: max |diff| {diff}");
            largest = Math.Max(largest, diff);
        }

        output.WriteLine($"fused {fused}, prompt {length}: max |diff| {largest}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Greedy_decoding_across_the_original_length_matches_the_reference(bool fused)
    {
        var config = fused ? Fused : Unfused;
        using var model = Load(config);
        Assert.False(model.ReusesPromptPrefixes); // a prefix's keys carry the frequencies of the runs that made them
        Assert.Equal(1, model.MaxBatchSize);
        using var state = new DecoderState(model);
        int[] prompt = Tokens(config, 50);
        var reference = Reference(config, Spec);

        // Prompt: one run of 50; then one run per token, so positions 64..127 each get freq(position + 1).
        float[] logits = state.Append(prompt, CancellationToken.None)[^config.VocabSize..].ToArray();
        float[] expected = [];
        for (int pos = 0; pos < prompt.Length; pos++)
        {
            expected = reference.Forward(prompt[pos], pos, sequenceLength: prompt.Length);
        }

        int steps = 0;
        float largest = 0;
        for (int pos = prompt.Length; pos < 2 * Original; pos++)
        {
            float diff = Numerics.MaxAbsDiff(logits, expected);
            Assert.True(diff <= Tolerance, $"fused {fused}, step logits before position {pos}: max |diff| {diff}");
            largest = Math.Max(largest, diff);
            int next = ArgMax(logits);
            Assert.Equal(ArgMax(expected), next);
            logits = state.Append([next], CancellationToken.None).ToArray();
            expected = reference.Forward(next, pos);
            steps++;
        }

        Assert.True(Numerics.MaxAbsDiff(logits, expected) <= Tolerance);
        Assert.Equal(2 * Original - 50, steps);
        output.WriteLine($"fused {fused}: {steps} greedy steps, max |diff| {largest}");
    }

    [Fact]
    public async Task Generation_repeated_with_prompt_lookup_reuses_no_prefix_drafts_nothing_and_matches_the_reference()
    {
        using var model = Load(Fused);
        int[] prompt = Tokens(Fused, 50);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 70, PromptLookup = new PromptLookupOptions() };

        // The reference's greedy continuation: the prompt as one run, then one run per token.
        var reference = Reference(Fused, Spec);
        float[] logits = [];
        for (int pos = 0; pos < prompt.Length; pos++)
        {
            logits = reference.Forward(prompt[pos], pos, sequenceLength: prompt.Length);
        }

        var expected = new List<int>();
        for (int pos = prompt.Length; expected.Count < 70; pos++)
        {
            int next = ArgMax(logits);
            expected.Add(next);
            if (model.Config.Model.EosTokenIds.Contains(next))
            {
                break;
            }

            logits = reference.Forward(next, pos);
        }

        // The second request finds the first one's state in the pool, but must not reuse its prefix.
        for (int request = 0; request < 2; request++)
        {
            var result = await model.GenerateAsync(prompt, options);
            Assert.Equal(0, result.CachedPromptTokenCount);
            Assert.Equal(0, result.DraftedTokenCount);
            Assert.Equal(expected, result.TokenIds);
        }
    }

    [Fact]
    public void Unscaled_linear_or_whole_context_frequencies_differ_from_dynamic_above_the_original_length()
    {
        // Guards the tests above: every wrong choice of table moves the logits far past their tolerance.
        int[] prompt = Tokens(Fused, 100);
        float[] Last(LlamaReference reference, Func<int, int> runLength)
        {
            float[] last = [];
            for (int pos = 0; pos < prompt.Length; pos++)
            {
                last = reference.Forward(prompt[pos], pos, runLength(pos));
            }

            return last;
        }

        float[] dynamic = Last(Reference(Fused, Spec), _ => prompt.Length);
        float[] unscaled = Last(Reference(Fused, null), _ => prompt.Length);
        float[] linear = Last(Reference(Fused, "linear:2"), _ => prompt.Length);
        float[] tokenByToken = Last(Reference(Fused, Spec), pos => pos + 1); // same tokens, runs of one
        float[] wholeContext = Last(Reference(Fused, Spec), _ => 2 * Original); // one static table for 128

        foreach (var (name, other) in new[] { ("unscaled", unscaled), ("linear:2", linear), ("token by token", tokenByToken), ("freq(128)", wholeContext) })
        {
            float diff = Numerics.MaxAbsDiff(dynamic, other);
            Assert.True(diff > 100 * Tolerance, $"dynamic vs {name}: max |diff| {diff}");
            output.WriteLine($"dynamic vs {name}: max |diff| {diff}");
        }
    }

    [Fact]
    public void The_folder_takes_the_tables_as_inputs_and_onnxruntime_genai_cannot_run_it()
    {
        string folder = TestModels.SyntheticWithRopeScaling(Fused, Seed, OnnxGraphForm.OrtGenAI, Spec);
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(folder, "model.onnx")))
        {
            Assert.Equal([2 * Original, 8], session.InputMetadata["cos_cache"].Dimensions);
            Assert.Equal("dynamic", session.ModelMetadata.CustomMetadataMap["llmkit.rope_scaling.type"]);
        }

        // 0.20.0 has no way to feed cos_cache/sin_cache: it loads the folder, then its first run fails on the missing input.
        var e = Record.Exception(() =>
        {
            using var official = new OfficialRuntime(folder);
            official.FirstStepLogits(Tokens(Fused, 10));
        });
        Assert.NotNull(e);
        Assert.Contains("cos_cache", e.Message);
        output.WriteLine($"onnxruntime-genai 0.20.0: {e.GetType().Name}: {e.Message}");
    }

    [Fact]
    public void Dynamic_scaling_in_the_standard_graph_form_is_refused_naming_it()
    {
        var (checkpoint, tokenizer) = TestModels.SyntheticCheckpoint(Fused, Seed);
        using var temp = new TempFolder();
        var e = Assert.Throws<NotSupportedException>(() => Llama2cConverter.Convert(
            new Llama2cConversionRequest(checkpoint, tokenizer, temp.File("out"), GraphForm: OnnxGraphForm.Standard) { RopeScaling = RopeScaling.Parse(Spec) }));
        Assert.Contains("dynamic", e.Message);
    }

    private static OnnxGenAIModel Load(LlamaConfig config) =>
        OnnxGenAIModel.Load(TestModels.SyntheticWithRopeScaling(config, Seed, OnnxGraphForm.OrtGenAI, Spec), new OnnxGenAIModelOptions { IntraOpThreads = 1 });

    private static LlamaReference Reference(LlamaConfig config, string? spec)
    {
        var weights = TestModels.Checkpoint(TestModels.SyntheticCheckpoint(config, Seed).Checkpoint).Weights;
        if (spec is not null)
        {
            var scaling = RopeScaling.Parse(spec) with { OriginalMaxPositionEmbeddings = Original };
            weights = weights.WithConfig(weights.Config with { RopeScaling = scaling });
        }

        return new LlamaReference(weights, maxPositions: 2 * Original);
    }

    private static int[] Tokens(LlamaConfig config, int count)
    {
        var random = new Random(Seed + count);
        return [.. Enumerable.Range(0, count).Select(_ => random.Next(3, config.VocabSize))];
    }

    private static int ArgMax(ReadOnlySpan<float> values) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(values);
}
