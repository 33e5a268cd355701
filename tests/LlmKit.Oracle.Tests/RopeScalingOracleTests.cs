using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Oracle.Tests;

/// <summary>
/// Folders built with RoPE scaling (context 8,192 on a model trained at 2,048) load in onnxruntime-genai 0.20.0 and in
/// LlmKit, and both agree with each other and with the managed reference forward past the training length.
/// </summary>
public sealed class RopeScalingOracleTests
{
    // Trained at 2,048 positions; head size 16, so the official form fuses RoPE into GroupQueryAttention.
    private static readonly LlamaConfig LongContext = new(Dim: 32, HiddenDim: 64, Layers: 2, Heads: 2, KvHeads: 1, VocabSize: 300, SeqLen: 2048);
    private const int Seed = 4242;

    // Same graph in the same ONNX Runtime on both sides: 1e-4 allows another kernel order. Against the reference the
    // bound of the builder's reference tests (float32, different summation order over <= 5,000 positions).
    private const float Tolerance = 1e-4f;

    public static TheoryData<string> Scalings => new() { "linear:4", "llama3:4", "yarn:4" };

    [Theory]
    [MemberData(nameof(Scalings))]
    public void A_prompt_past_the_training_length_gives_the_same_logits_and_greedy_ids_in_both_runtimes(string spec)
    {
        string folder = TestModels.SyntheticWithRopeScaling(LongContext, Seed, OnnxGraphForm.OrtGenAI, spec);
        var random = new Random(Seed);
        int[] prompt = [.. Enumerable.Range(0, 4500).Select(_ => random.Next(3, LongContext.VocabSize))];

        using var model = LlmKitRuntime.Load(folder);
        using var official = new OfficialRuntime(folder);
        Assert.Equal(8192, model.MaxLength); // the folder's context_length, four times the training length

        float[] llmkit = LlmKitRuntime.FirstStepLogits(model, prompt);
        float[] oracle = official.FirstStepLogits(prompt);
        float runtimes = LlmKitRuntime.MaxAbsDifference(oracle, llmkit);
        Assert.True(runtimes <= Tolerance, $"{spec}: LlmKit vs onnxruntime-genai first-step logits max |diff| {runtimes}");

        var weights = TestModels.Checkpoint(TestModels.SyntheticCheckpoint(LongContext, Seed).Checkpoint).Weights;
        var scaling = RopeScaling.Parse(spec) with { OriginalMaxPositionEmbeddings = LongContext.SeqLen };
        var reference = new LlamaReference(weights.WithConfig(weights.Config with { RopeScaling = scaling }), maxPositions: 8192);
        float[] expected = [];
        for (int pos = 0; pos < prompt.Length; pos++)
        {
            expected = reference.Forward(prompt[pos], pos);
        }

        float toReference = LlmKitRuntime.MaxAbsDifference(expected, llmkit);
        Assert.True(toReference <= Tolerance, $"{spec}: LlmKit vs reference at position {prompt.Length - 1}: max |diff| {toReference}");

        int maxLength = prompt.Length + 40;
        Assert.Equal(official.Generate(prompt, maxLength), LlmKitRuntime.Generate(model, prompt, maxLength));
    }

    [Theory]
    [InlineData(200, 40)] // prompt within the original length (short tables), generation stays within it
    [InlineData(700, 40)] // prompt past it: long tables from the first step
    [InlineData(200, 120)] // generation crossing it at 256: the graph switches tables midway, in both runtimes
    public void Longrope_folders_agree_in_both_runtimes_and_with_the_reference(int promptLength, int newTokens)
    {
        // Phi-3 style: trained at 256, served at 1,024, per-pair factors for head size 16; the folder switches from the
        // short-factor tables to the long-factor ones once the total length passes 256.
        var config = LongContext with { SeqLen = 256 };
        var scaling = RopeScaling.FromHuggingFace(System.Text.Json.JsonDocument.Parse(
            """{"type": "longrope", "short_factor": [1, 1, 1.1, 1.2, 1.3, 1.5, 1.8, 2.0], "long_factor": [1, 1.2, 1.5, 2, 3, 4, 5, 6]}""").RootElement, 1024, 256)!;
        var (checkpoint, tokenizer) = TestModels.SyntheticCheckpoint(config, Seed);
        string folder = Path.Combine(Path.GetTempPath(), "llmkit-tests", "scratch", Guid.NewGuid().ToString("N"));
        try
        {
            Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, folder) { RopeScaling = scaling });
            var random = new Random(Seed);
            int[] prompt = [.. Enumerable.Range(0, promptLength).Select(_ => random.Next(3, config.VocabSize))];
            using var model = LlmKitRuntime.Load(folder);
            using var official = new OfficialRuntime(folder);
            Assert.Equal(1024, model.MaxLength);

            float[] llmkit = LlmKitRuntime.FirstStepLogits(model, prompt);
            float diff = LlmKitRuntime.MaxAbsDifference(official.FirstStepLogits(prompt), llmkit);
            Assert.True(diff <= Tolerance, $"longrope, prompt {promptLength}: first-step logits max |diff| {diff}");

            // The reference with the prompt's factor set (the prefill is one run of promptLength tokens).
            var weights = TestModels.Checkpoint(checkpoint).Weights;
            var reference = new LlamaReference(weights.WithConfig(weights.Config with { RopeScaling = scaling }), maxPositions: 1024);
            float[] expected = [];
            for (int pos = 0; pos < prompt.Length; pos++)
            {
                expected = reference.Forward(prompt[pos], pos, sequenceLength: promptLength);
            }

            float toReference = LlmKitRuntime.MaxAbsDifference(expected, llmkit);
            Assert.True(toReference <= Tolerance, $"longrope, prompt {promptLength}: LlmKit vs reference max |diff| {toReference}");

            int maxLength = prompt.Length + newTokens;
            int[] ids = official.Generate(prompt, maxLength);
            Assert.Equal(ids, LlmKitRuntime.Generate(model, prompt, maxLength));
            Assert.True(ids.Length > prompt.Length + 10, $"only {ids.Length - prompt.Length} tokens compared");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
